"""The compiled kernel (ikou/mainframe/_kernel.c) gives exactly the numpy decoders' results.

The kernel decodes only plain rows and hands every other row to the numpy implementation; these
tests feed both paths random and mutated bytes (every code page with single-byte shift codes,
外字 tables, both policies, padding kept or trimmed) and compare arrays, reasons, positions,
codes and 外字 occurrences. Without a C compiler the kernel is unavailable and the engine runs
on numpy alone: the comparisons are skipped, everything else still runs.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prerequisites import need

from ikou.mainframe import kernel
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.decode import (
    TextTables,
    decode_dbcs,
    decode_dbcs_numpy,
    decode_mixed,
    decode_mixed_numpy,
    decode_packed,
    decode_packed_numpy,
    decode_sbcs,
    decode_sbcs_numpy,
    decode_zoned,
    decode_zoned_numpy,
)
from ikou.mainframe.encode import frame_records
from ikou.mainframe.engine import decode_file
from ikou.moji.codepages import get_codepage
from ikou.moji.gaiji import GaijiTable

from .conftest import PEOPLE, fixed, juki_options, juki_records


@pytest.fixture(scope="module")
def compiled_kernel():
    """The compiled kernel: without it (no C compiler) the tests comparing it with the numpy
    decoders cannot run — a skip listed at the end, a failure under IKOU_STRICT=1."""
    if not kernel.available():
        need("C compiler", "the decoder's kernel could not be built: numpy decoders only")


needs_kernel = pytest.mark.usefixtures("compiled_kernel")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GAIJI = (
    "encoding,legacy_code,unicode,mj_name,note\ncp930,6941,U+9AD9,,\ncp930,6942,U+8FBA U+E0101,,\n"
    "jef,8141,U+E000,,\n"
)
#: bytes that make text interesting: shifts (IBM, JEF), spaces, kanji lead bytes, 外字, undefined
TEXT_BYTES = [
    0x0E,
    0x0F,
    0x28,
    0x29,
    0x38,
    0x40,
    0x40,
    0x40,
    0x41,
    0x42,
    0x43,
    0x44,
    0x45,
    0x4E,
    0x69,
    0x7A,
    0xC1,
    0xB0,
    0xA1,
    0xE9,
    0xFA,
    0x00,
    0x01,
    0xFF,
    0x81,
    0x62,
]


def _same(a, b) -> None:
    assert a.array.to_pylist() == b.array.to_pylist()
    assert a.array.type == b.array.type
    assert a.bad.tolist() == b.bad.tolist()
    bad = a.bad != 0
    assert a.pos[bad].tolist() == b.pos[bad].tolist()
    if b.code_at_pos is not None:
        assert a.code_at_pos[bad].tolist() == b.code_at_pos[bad].tolist()
    assert [tuple(map(int, g)) for g in a.gaiji] == [tuple(map(int, g)) for g in b.gaiji]
    assert a.gaiji_mapped == b.gaiji_mapped


TABLE = GaijiTable.parse(GAIJI, "g.csv")


@functools.lru_cache(maxsize=None)
def _tables(name: str, policy: str, gaiji: bool) -> TextTables:
    return TextTables(get_codepage(name), name, TABLE if gaiji else None, policy)


matrices = st.integers(1, 12).flatmap(
    lambda m: st.integers(1, 24).flatmap(
        lambda w: st.lists(
            st.lists(st.sampled_from(TEXT_BYTES) | st.integers(0, 255), min_size=w, max_size=w),
            min_size=m,
            max_size=m,
        )
    )
)


@needs_kernel
@SETTINGS
@given(
    rows=matrices,
    name=st.sampled_from(["cp930", "cp939", "cp1390", "jef"]),
    policy=st.sampled_from(["placeholder", "quarantine"]),
    gaiji=st.booleans(),
    keep=st.booleans(),
)
def test_text_kernel_matches_numpy(rows, name, policy, gaiji, keep):
    t = _tables(name, policy, gaiji)
    b = np.asarray(rows, np.uint8)
    _same(decode_mixed(b, t, keep_padding=keep), decode_mixed_numpy(b, t, keep_padding=keep))
    _same(decode_sbcs(b, t, keep_padding=keep), decode_sbcs_numpy(b, t, keep_padding=keep))
    if b.shape[1] % 2 == 0:
        _same(decode_dbcs(b, t, keep_padding=keep), decode_dbcs_numpy(b, t, keep_padding=keep))


@needs_kernel
def test_text_kernel_on_field_views_of_a_record_matrix():
    """Fields are strided views of the chunk (no copy): the kernel reads them in place."""
    cp = get_codepage("cp930")
    t = TextTables(cp, "cp930")

    def rec(mixed: str, kanji: str) -> bytes:
        m, k = cp.encode_mixed(mixed), cp.encode_dbcs(kanji)
        return m + b"\x40" * (20 - len(m)) + k + b"\x40\x40" * ((8 - len(k)) // 2)

    mat = np.frombuffer(rec("ABC見本市", "山田") + rec("ｱｲｳ 1-2", "花子"), np.uint8).reshape(2, 28)
    view = mat[:, :20]
    assert view.strides[0] == 28 and not view.flags.c_contiguous
    assert decode_mixed(view, t).array.to_pylist() == ["ABC見本市", "ｱｲｳ 1-2"]
    assert decode_dbcs(mat[:, 20:], t).array.to_pylist() == ["山田", "花子"]


number_rows = st.lists(
    st.lists(
        st.sampled_from([0xF0, 0xF9, 0xC1, 0xD2, 0x40, 0x12, 0x3C, 0x4D, 0x0F, 0xFA])
        | st.integers(0, 255),
        min_size=4,
        max_size=4,
    ),
    min_size=1,
    max_size=10,
)


@needs_kernel
@SETTINGS
@given(
    rows=number_rows,
    pic=st.sampled_from(
        [
            "PIC 9(4)",
            "PIC S9(4)",
            "PIC S9(2)V99",
            "PIC S9(4) SIGN LEADING",
            "PIC 9(4)P",
            "PIC S99V99",
        ]
    ),
    money=st.booleans(),
    blank=st.sampled_from(["quarantine", "null"]),
)
def test_zoned_kernel_matches_numpy(rows, pic, money, blank):
    f = parse_copybook(fixed("01  REC.", f"    05  F  {pic}.")).record().field("F")
    b = np.asarray(rows, np.uint8)
    _same(
        decode_zoned(b, f, money=money, blank=blank),
        decode_zoned_numpy(b, f, money=money, blank=blank),
    )


@needs_kernel
@SETTINGS
@given(
    rows=number_rows,
    pic=st.sampled_from(
        [
            "PIC S9(7) COMP-3",
            "PIC 9(7) COMP-3",
            "PIC S9(5)V99 COMP-3",
            "PIC S9(6) COMP-3",
            "PIC 9(4)V9 COMP-3",
        ]
    ),
)
def test_packed_kernel_matches_numpy(rows, pic):
    f = parse_copybook(fixed("01  REC.", f"    05  F  {pic}.")).record().field("F")
    b = np.asarray(rows, np.uint8)
    _same(decode_packed(b, f), decode_packed_numpy(b, f))


def _run(data: bytes, cb, opts):
    run = decode_file(io.BytesIO(data), cb, opts)
    chunks = list(run)
    batch = [c.batch for c in chunks]
    quarantine = [c.quarantine for c in chunks]
    return run.summary.to_dict(), batch, quarantine, run.gaiji_occurrences()


@needs_kernel
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 2000), st.sampled_from(TEXT_BYTES) | st.integers(0, 255)),
        max_size=10,
    ),
    policy=st.sampled_from(["placeholder", "quarantine"]),
)
def test_engine_results_do_not_depend_on_the_kernel(juki_cb, cp930, edits, policy, monkeypatch):
    data = bytearray(frame_records(juki_records(juki_cb, cp930, PEOPLE * 3), "FB"))
    for pos, val in edits:
        data[pos % len(data)] = val
    opts = juki_options(gaiji_policy=policy, chunk_bytes=600, gaiji=TABLE)
    with_kernel = _run(bytes(data), juki_cb, opts)
    monkeypatch.setenv("IKOU_DECODE_KERNEL", "numpy")
    without = _run(bytes(data), juki_cb, opts)
    monkeypatch.delenv("IKOU_DECODE_KERNEL")
    for k in (
        "records_in",
        "records_out",
        "quarantined",
        "by_reason",
        "control_sums",
        "gaiji_unmapped",
        "gaiji_mapped",
        "trailer_ok",
        "header",
        "trailer",
    ):
        assert with_kernel[0][k] == without[0][k], k
    assert [b.to_pylist() for b in with_kernel[1]] == [b.to_pylist() for b in without[1]]
    assert [q.to_pylist() for q in with_kernel[2]] == [q.to_pylist() for q in without[2]]
    assert with_kernel[3].to_pylist() == without[3].to_pylist()


def test_mode_switch(monkeypatch):
    monkeypatch.setenv("IKOU_DECODE_KERNEL", "numpy")
    assert kernel.available() is False
    t = TextTables(get_codepage("cp930"), "cp930")
    b = np.frombuffer(b"\xc1\xc2\x40\x40", np.uint8).reshape(1, 4)
    assert kernel.text_kernel(b, kernel.K_SBCS, t, False) is None
    assert decode_sbcs(b, t).array.to_pylist() == ["AB"]
    monkeypatch.setenv("IKOU_DECODE_KERNEL", "fast")
    with pytest.raises(ValueError, match="IKOU_DECODE_KERNEL"):
        kernel.available()


@needs_kernel
def test_kernel_is_cached_by_source_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("IKOU_KERNEL_DIR", str(tmp_path))
    path = kernel.build()
    assert path.parent == tmp_path and path.name.startswith("ikou_text_") and path.exists()
    mtime = path.stat().st_mtime_ns
    assert kernel.build() == path and path.stat().st_mtime_ns == mtime  # cached, not rebuilt


def test_multi_byte_shift_codes_use_numpy():
    """KEIS / JIPS shift codes are two bytes: the kernel does not apply, numpy decodes."""
    for name in ("keis", "jips"):
        cp = get_codepage(name)
        t = TextTables(cp, name)
        raw = cp.encode_mixed("A山田B") + b"\x40" * 4
        b = np.frombuffer(raw, np.uint8).reshape(1, -1)
        assert kernel.text_kernel(b, kernel.K_MIXED, t, False) is None
        assert decode_mixed(b, t).array.to_pylist() == ["A山田B"]
