"""Property tests: random and mutated bytes never crash the engine nor lose a record."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.mainframe.encode import frame_records
from ikou.mainframe.engine import decode_file
from ikou.mainframe.reader import RecordFormatError

from .conftest import PEOPLE, juki_options, juki_records

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INTERESTING = [0x0E, 0x0F, 0x40, 0x69, 0x41, 0xFA, 0x4B, 0x00, 0xFF, 0xC4, 0xD3, 0x01]


def mutate(data: bytes, edits, cut):
    b = bytearray(data)
    for pos, val in edits:
        if b:
            b[pos % len(b)] = val
    if cut is not None and b:
        del b[cut % len(b) :]
    return bytes(b)


edits_st = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(INTERESTING) | st.integers(0, 255)),
    max_size=12,
)


def _decode(data, cb, opts):
    run = decode_file(io.BytesIO(data), cb, opts)
    chunks = list(run)
    s = run.summary
    assert s.complete
    assert s.records_in == s.records_out + s.header_records + s.trailer_records + s.quarantined
    assert sum(c.records_out for c in chunks) == s.records_out
    assert sum(c.quarantine.num_rows for c in chunks) == s.quarantined
    assert sum(c.batch.num_rows for c in chunks) == s.records_out
    for c in chunks:
        for r in c.quarantine.to_pylist():
            assert r["reason"] and r["raw_hex"] is not None
    return s


@SETTINGS
@given(
    edits=edits_st,
    cut=st.none() | st.integers(0, 10_000),
    policy=st.sampled_from(["placeholder", "quarantine"]),
)
def test_fb_mutations(juki_cb, cp930, edits, cut, policy):
    data = mutate(frame_records(juki_records(juki_cb, cp930, PEOPLE * 2), "FB"), edits, cut)
    s = _decode(data, juki_cb, juki_options(gaiji_policy=policy, chunk_bytes=500))
    assert s.records_in == -(-len(data) // 120)
    assert s.bytes_read == len(data)


@SETTINGS
@given(edits=edits_st, cut=st.none() | st.integers(0, 10_000), recfm=st.sampled_from(["V", "VB"]))
def test_variable_mutations(juki_cb, cp930, edits, cut, recfm):
    data = mutate(
        frame_records(juki_records(juki_cb, cp930, PEOPLE * 2), recfm, block_size=400), edits, cut
    )
    try:
        s = _decode(data, juki_cb, juki_options(recfm=recfm, chunk_bytes=1 << 16))
    except RecordFormatError:
        return  # only when the very first descriptor is wrong
    assert s.bytes_read == len(data)


@SETTINGS
@given(blob=st.binary(min_size=0, max_size=2000), recfm=st.sampled_from(["F", "FB", "V", "VB"]))
def test_random_bytes(juki_cb, blob, recfm):
    from ikou.mainframe.compression import sniff

    try:
        _decode(blob, juki_cb, juki_options(recfm=recfm))
    except RecordFormatError:
        # a V file's first descriptor, or the first bytes of a compressed format (zip, xz, .Z)
        assert recfm in ("V", "VB") or sniff(blob) is not None


# ------------------------------------------------------------------ targeted mutations, one record

LRECL = 120
# offsets in JUKI-DATA (tests/data/mainframe/juki.cpy)
KANJI, ADDRESS, TAX = (11, 20), (58, 40), (98, 6)


def _file(juki_cb, cp930, people=PEOPLE * 3) -> bytearray:
    return bytearray(frame_records(juki_records(juki_cb, cp930, people), "FB"))


def _one_bad_record(
    data: bytes, cb, record: int, reason: str, field: str | None, policy: str = "placeholder"
):
    """Exactly ``record`` is quarantined, for ``reason``; every other record decodes; nothing is lost."""
    s = _decode(bytes(data), cb, juki_options(gaiji_policy=policy, chunk_bytes=360))
    n = len(data) // LRECL
    assert s.records_in == n and s.header_records == 1 and s.trailer_records == 1
    assert s.quarantined == 1 and s.records_out == n - 3
    assert s.by_reason == {reason: 1}
    run = decode_file(io.BytesIO(bytes(data)), cb, juki_options(gaiji_policy=policy))
    rows = [r for c in run for r in c.quarantine.to_pylist()]
    assert [(r["_record"], r["reason"], r["field"]) for r in rows] == [(record, reason, field)]
    assert rows[0]["raw_hex"] == bytes(data[record * LRECL : (record + 1) * LRECL]).hex().upper()
    return s


records_st = st.integers(
    1, len(PEOPLE) * 3
)  # a data record (0 is the header, the last the trailer)


@SETTINGS
@given(
    record=records_st,
    byte=st.integers(0, TAX[1] - 1),
    nibble=st.sampled_from(["high", "low", "sign"]),
    value=st.integers(0xA, 0xF),
)
def test_bad_packed_nibble(juki_cb, cp930, record, byte, nibble, value):
    data = _file(juki_cb, cp930)
    at = record * LRECL + TAX[0] + (TAX[1] - 1 if nibble == "sign" else byte)
    if nibble == "high":
        data[at] = (value << 4) | (data[at] & 0x0F)
    elif nibble == "low" and at != record * LRECL + TAX[0] + TAX[1] - 1:
        data[at] = (data[at] & 0xF0) | value
    else:  # the sign nibble must be A-F: a digit there is bad
        data[at] = (data[at] & 0xF0) | (value % 10)
    _one_bad_record(data, juki_cb, record, "bad_nibble", "TAX-AMOUNT")


def _address(cp930, raw: bytes) -> bytes:
    return raw + b"\x40" * (ADDRESS[1] - len(raw))


@SETTINGS
@given(record=records_st, prefix=st.text(alphabet="AB12 ", max_size=5), run=st.integers(0, 8))
def test_odd_dbcs_length(juki_cb, cp930, record, prefix, run):
    data = _file(juki_cb, cp930)
    body = cp930.encode_sbcs(prefix) + b"\x0e" + cp930.encode_dbcs("山" * run) + b"\x45" + b"\x0f"
    data[record * LRECL + ADDRESS[0] : record * LRECL + sum(ADDRESS)] = _address(cp930, body)
    _one_bad_record(data, juki_cb, record, "odd_dbcs_length", "ADDRESS")


@SETTINGS
@given(
    record=records_st,
    shape=st.sampled_from(["so_only", "si_only", "nested", "si_first"]),
    kanji=st.text(alphabet="山田見本市", min_size=1, max_size=6),
)
def test_unbalanced_shift_codes(juki_cb, cp930, record, shape, kanji):
    data = _file(juki_cb, cp930)
    k = cp930.encode_dbcs(kanji)
    body = {
        "so_only": b"\xc1\x0e" + k,
        "si_only": b"\xc1" + k[:2] + b"\x0f",
        "nested": b"\x0e" + k + b"\x0e" + k + b"\x0f\x0f",
        "si_first": b"\x0f\x0e" + k + b"\x0f",
    }[shape]
    data[record * LRECL + ADDRESS[0] : record * LRECL + sum(ADDRESS)] = _address(cp930, body)
    _one_bad_record(data, juki_cb, record, "unbalanced_shift", "ADDRESS")


@SETTINGS
@given(
    record=records_st,
    where=st.sampled_from(["kanji", "address"]),
    pos=st.integers(0, 9),
    code=st.sampled_from([0x0102, 0x3F3F, 0x0041, 0x4100, 0x20FF]),
)
def test_invalid_dbcs_code(juki_cb, cp930, record, where, pos, code):
    data = _file(juki_cb, cp930)
    raw = code.to_bytes(2, "big")
    if where == "kanji":
        at = record * LRECL + KANJI[0] + 2 * pos
        data[at : at + 2] = raw
        field = "SHIMEI-KANJI"
    else:
        body = b"\x0e" + cp930.encode_dbcs("山" * (pos % 5)) + raw + b"\x0f"
        data[record * LRECL + ADDRESS[0] : record * LRECL + sum(ADDRESS)] = _address(cp930, body)
        field = "ADDRESS"
    _one_bad_record(data, juki_cb, record, "undecodable_dbcs", field)


@SETTINGS
@given(keep=st.integers(1, LRECL - 1), chunk=st.sampled_from([LRECL, 360, 1 << 16]))
def test_truncated_last_record(juki_cb, cp930, keep, chunk):
    data = _file(juki_cb, cp930)
    data = data[:-LRECL] + data[-LRECL:][:keep]  # the trailer is cut off after `keep` bytes
    s = _decode(bytes(data), juki_cb, juki_options(chunk_bytes=chunk))
    assert s.records_in == len(PEOPLE) * 3 + 2 and s.quarantined == 1
    assert s.by_reason == {"truncated_record": 1} and s.trailer_records == 0
    assert s.bytes_read == len(data)
    assert not s.trailer_ok  # no trailer record: the control totals cannot be checked -> a finding


@SETTINGS
@given(delta=st.integers(-30, 30).filter(lambda d: d != 0), recfm=st.sampled_from(["F", "FB"]))
def test_wrong_record_length(juki_cb, cp930, delta, recfm):
    """A wrong LRECL: refused up front when no layout fits, else every byte read and accounted."""
    data = bytes(_file(juki_cb, cp930))
    try:
        s = _decode(data, juki_cb, juki_options(recfm=recfm, lrecl=LRECL + delta))
    except RecordFormatError as exc:
        assert delta < 0 and "LRECL" in str(exc)  # a layout needs more bytes than a record has
        return
    assert s.bytes_read == len(data)
    assert s.records_in == -(-len(data) // (LRECL + delta))
    assert s.quarantined >= 1  # misaligned records cannot all decode


@SETTINGS
@given(
    record=records_st,
    code=st.sampled_from([0x6941, 0x7A41, 0x7FFE]),
    policy=st.sampled_from(["placeholder", "quarantine"]),
)
def test_unmapped_gaiji_is_a_placeholder_or_a_quarantined_record(
    juki_cb, cp930, record, code, policy
):
    data = _file(juki_cb, cp930)
    at = record * LRECL + KANJI[0]
    data[at : at + 2] = code.to_bytes(2, "big")
    if policy == "quarantine":
        s = _one_bad_record(data, juki_cb, record, "unmapped_gaiji", "SHIMEI-KANJI", policy)
    else:
        s = _decode(bytes(data), juki_cb, juki_options())
        assert s.quarantined == 0 and s.records_out == len(PEOPLE) * 3
    assert s.gaiji_unmapped == 1 and s.gaiji_codes == [f"{code:04X}"]
