"""Record structures built byte by byte: RDW/BDW variants, spanned records, length fields,
file and record offsets, compressed input; a hypothesis property over the V formats."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.engine import decode_file
from ikou.mainframe.reader import Framing, RecordFormatError, iter_record_chunks


def frames(data: bytes, recfm: str, lrecl=None, chunk_bytes=1 << 20, **kw):
    fr = Framing(**kw)
    return list(
        iter_record_chunks(io.BytesIO(data), recfm, lrecl, chunk_bytes=chunk_bytes, framing=fr)
    )


def recs(chs) -> list[bytes]:
    return [c.raw(i) for c in chs for i in range(len(c))]


def broken(chs):
    return [(b.record_no, b.offset, b.reason) for c in chs for b in c.broken]


def rdw(n: int, *, adjust=0, little=False, seg=0, low=False) -> bytes:
    """An RDW for a payload of ``n`` bytes (value = n + 4 - adjust)."""
    v = n + 4 - adjust
    if low:  # the length in bytes 2-3, bytes 0-1 zero
        return b"\x00\x00" + v.to_bytes(2, "little" if little else "big")
    return v.to_bytes(2, "little" if little else "big") + bytes([seg, 0])


def bdw(content: int, *, adjust=0, little=False) -> bytes:
    return (content + 4 - adjust).to_bytes(2, "little" if little else "big") + b"\x00\x00"


PAYLOADS = [b"ALPHA", b"", b"B" * 300, b"CHARLIE"]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"little": True},
        {"adjust": 4},
        {"adjust": -4},
        {"low": True},
        {"low": True, "little": True},
    ],
)
def test_v_rdw_variants(kw):
    data = b"".join(rdw(len(p), **kw) + p for p in PAYLOADS)
    chs = frames(
        data,
        "V",
        rdw_adjust=kw.get("adjust", 0),
        rdw_endian="little" if kw.get("little") else "big",
    )
    assert recs(chs) == PAYLOADS
    offs = [int(o) for c in chs for o in c.offsets]
    assert offs == [0, 9, 13, 317]
    assert sum(c.bytes_read for c in chs) == len(data)


def test_v_wrong_adjust_is_a_format_error_or_broken():
    data = b"".join(rdw(len(p)) + p for p in PAYLOADS)
    with pytest.raises(RecordFormatError):
        frames(data, "V", rdw_adjust=-8)  # the first RDW would give a negative payload


@pytest.mark.parametrize("bdw_adjust", [0, 4, -4])
@pytest.mark.parametrize("little", [False, True])
def test_vb_blocks_with_adjust(bdw_adjust, little):
    block1 = b"".join(rdw(len(p), little=little) + p for p in PAYLOADS[:2])
    block2 = b"".join(rdw(len(p), little=little) + p for p in PAYLOADS[2:])
    data = b"".join(bdw(len(b), adjust=bdw_adjust, little=little) + b for b in (block1, block2))
    chs = frames(data, "VB", bdw_adjust=bdw_adjust, rdw_endian="little" if little else "big")
    assert recs(chs) == PAYLOADS
    assert broken(chs) == []


def test_vb_block_promising_more_bytes_than_present_is_a_truncation():
    block = b"".join(rdw(len(p)) + p for p in PAYLOADS[:2])
    data = bdw(len(block) + 50) + block  # the file ends 50 bytes early, after whole records
    chs = frames(data, "VB")
    assert recs(chs) == PAYLOADS[:2]
    assert broken(chs) == [(2, 0, "truncated_record")]
    assert "promises" in chs[-1].broken[0].detail or any(
        "promises" in b.detail for c in chs for b in c.broken
    )


def test_vb_record_cut_by_the_end_of_the_file():
    block = b"".join(rdw(len(p)) + p for p in PAYLOADS)
    data = bdw(len(block)) + block[:-3]
    chs = frames(data, "VB")
    assert recs(chs) == PAYLOADS[:3]
    assert broken(chs) == [(3, 4 + 9 + 4 + 304, "truncated_record")]


def spanned(payload: bytes, cuts: list[int]) -> bytes:
    """One logical record as segments (first / middle... / last) cut at ``cuts``."""
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
    if len(parts) == 1:
        return rdw(len(payload)) + payload
    out = b""
    for i, p in enumerate(parts):
        seg = 1 if i == 0 else 2 if i == len(parts) - 1 else 3
        out += rdw(len(p), seg=seg) + p
    return out


def test_vs_spanned_segments_make_one_record():
    data = spanned(b"WHOLE", []) + spanned(b"0123456789" * 3, [7, 19]) + spanned(b"TAIL", [])
    chs = frames(data, "VS")
    assert recs(chs) == [b"WHOLE", b"0123456789" * 3, b"TAIL"]
    assert [int(o) for c in chs for o in c.offsets] == [0, 9, 9 + 11 + 16 + 15]


def test_vbs_segments_across_blocks():
    seg_first = rdw(4, seg=1) + b"ABCD"
    seg_mid = rdw(3, seg=3) + b"EFG"
    seg_last = rdw(2, seg=2) + b"HI"
    whole = rdw(3) + b"XYZ"
    b1 = whole + seg_first
    b2 = seg_mid + seg_last
    data = bdw(len(b1)) + b1 + bdw(len(b2)) + b2
    chs = frames(data, "VBS")
    assert recs(chs) == [b"XYZ", b"ABCDEFGHI"]
    assert broken(chs) == []


def test_vs_broken_segment_order():
    data = rdw(2, seg=2) + b"HI" + spanned(b"OK", []) + rdw(3, seg=1) + b"ABC"
    data = spanned(b"OK", []) + data  # a whole record first: the file is VS
    chs = frames(data, "VS")
    assert recs(chs) == [b"OK", b"OK"]
    assert [r for _, _, r in broken(chs)] == ["bad_rdw", "truncated_record"]


def test_v_segment_byte_without_vs_is_a_format_error():
    data = rdw(2, seg=1) + b"AB"
    with pytest.raises(RecordFormatError):
        frames(data, "V")


CPY_LEN = """\
       01  L-REC.
           05  L-LEN     PIC 9(4) COMP.
           05  L-KIND    PIC X.
           05  L-TEXT    PIC X(20).
"""


def test_record_length_field_frames_each_record():
    cb = parse_copybook(CPY_LEN, source="l.cpy")
    texts = [b"\xc1\xc2\xc3", b"\xc4" * 20, b""]  # EBCDIC "ABC", "DDDD...", nothing
    data = b"".join((3 + len(t)).to_bytes(2, "big") + b"\xe7" + t for t in texts)
    run = decode_file(data, cb, encoding="cp037", recfm="F", record_length_field="L-LEN")
    rows = [r for c in run for r in c.batch.to_pylist()]
    assert [r["L-TEXT"] for r in rows] == ["ABC", "D" * 20, None]
    assert [r["_offset"] for r in rows] == [0, 6, 29]
    assert run.summary.findings == {"short_record": 1}  # the third record ends before L-TEXT
    # a length that excludes the length field itself: --rdw-adjust 2
    data2 = b"".join((1 + len(t)).to_bytes(2, "big") + b"\xe7" + t for t in texts)
    run = decode_file(
        data2, cb, encoding="cp037", recfm="F", record_length_field="L-LEN", rdw_adjust=2
    )
    assert [r["L-TEXT"] for c in run for r in c.batch.to_pylist()] == ["ABC", "D" * 20, None]


def test_file_and_record_offsets_keep_offset_absolute():
    cb = parse_copybook(CPY_LEN, source="l.cpy")
    body = b"".join(
        b"\xff\xfe" + (23).to_bytes(2, "big") + b"\xe7" + (b"\xc1" * 20) + b"\x00" for _ in range(3)
    )
    data = b"HEADER" + body + b"TRAILER!"
    run = decode_file(
        data,
        cb,
        encoding="cp037",
        recfm="FB",
        file_start_offset=6,
        file_end_offset=8,
        record_start_offset=2,
        record_end_offset=1,
    )
    rows = [r for c in run for r in c.batch.to_pylist()]
    assert run.lrecl == 26
    assert [r["_offset"] for r in rows] == [6, 32, 58]
    assert [r["L-TEXT"] for r in rows] == ["A" * 20] * 3
    assert run.summary.quarantined == 0 and run.summary.bytes_read == len(data)


@pytest.mark.parametrize("kind", ["gzip", "bzip2"])
def test_gzip_and_bzip2_are_read_transparently(kind):
    payload = b"".join(rdw(len(p)) + p for p in PAYLOADS)
    data = gzip.compress(payload) if kind == "gzip" else bz2.compress(payload)
    assert recs(frames(data, "V")) == PAYLOADS


def _zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.dat", payload)
    return buf.getvalue()


@pytest.mark.parametrize(
    "kind,make",
    [
        ("zip", _zip),
        ("xz", lzma.compress),
        ("Z", lambda p: b"\x1f\x9d\x90" + p),  # Unix compress magic
    ],
)
def test_zip_xz_and_compress_are_refused(kind, make):
    payload = b"".join(rdw(len(p)) + p for p in PAYLOADS)
    with pytest.raises(RecordFormatError, match=rf"compressed \({kind}\): decompress first"):
        frames(make(payload), "V")


def test_no_byte_ranges_for_compressed_files():
    data = gzip.compress(b"A" * 100)
    with pytest.raises(RecordFormatError, match="byte ranges"):
        list(iter_record_chunks(io.BytesIO(data), "FB", 10, start=0, end=50))


def test_range_file_reads_a_part_as_the_whole_file(tmp_path):
    from ikou.stages.extract import RangeFile

    src = tmp_path / "part.bin"
    src.write_bytes(b"".join(bytes([i]) * 10 for i in range(3, 6)))
    with RangeFile(src, 30) as fh:
        chs = list(iter_record_chunks(fh, "FB", 10, start=30, end=60))
    assert recs(chs) == [bytes([i]) * 10 for i in range(3, 6)]
    assert [int(r) for c in chs for r in c.record_no] == [3, 4, 5]


# ------------------------------------------------------------------ property: V formats


payloads = st.lists(st.binary(max_size=120), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    payloads,
    st.sampled_from(["V", "VB", "VS", "VBS"]),
    st.sampled_from([0, 4, -4]),
    st.booleans(),
    st.integers(min_value=1, max_value=4),
    st.sampled_from([64, 1000, 1 << 20]),
)
def test_v_formats_round_trip(data, recfm, adjust, little, per_block, chunk):
    """Any payloads, framed with any adjustment / byte order / blocking / spanning, come back
    exactly, in order, with every byte accounted for."""
    spanned_ = recfm.endswith("S")
    items = []
    for p in data:
        if spanned_ and len(p) > 3:
            cut = len(p) // 2
            items.append(rdw(cut, adjust=adjust, little=little, seg=1) + p[:cut])
            items.append(rdw(len(p) - cut, adjust=adjust, little=little, seg=2) + p[cut:])
        else:
            items.append(rdw(len(p), adjust=adjust, little=little) + p)
    if recfm.startswith("VB"):
        blocks = [b"".join(items[i : i + per_block]) for i in range(0, len(items), per_block)]
        raw = b"".join(bdw(len(b), little=little) + b for b in blocks)
    else:
        raw = b"".join(items)
    from ikou.mainframe.framing_variable import variable_chunks

    chs = list(
        variable_chunks(
            io.BytesIO(raw),
            blocked=recfm.startswith("VB"),
            spanned=spanned_,
            rdw_adjust=adjust,
            little=little,
            chunk_bytes=chunk,
        )
    )
    assert recs(chs) == data
    assert broken(chs) == []
    assert sum(c.bytes_read for c in chs) == len(raw)


def test_extract_plan_splits_only_plain_files(tmp_path):
    """The extract stage decodes compressed files, and files with offsets or a length field,
    whole (streamed): no byte ranges for them."""
    from types import SimpleNamespace

    from ikou.stages.extract import splittable
    from ikou.storage import Store

    plain, packed = tmp_path / "plain.dat", tmp_path / "packed.dat"
    plain.write_bytes(b"\xc1" * 100)
    packed.write_bytes(gzip.compress(b"\xc1" * 100))
    none = SimpleNamespace(decode=SimpleNamespace())
    store = Store()
    assert splittable(none, store, str(plain))
    assert not splittable(none, store, str(packed))
    offset = SimpleNamespace(decode=SimpleNamespace(file_start_offset=10))
    assert not splittable(offset, store, str(plain))
    length = SimpleNamespace(decode=SimpleNamespace(record_length_field="L-LEN"))
    assert not splittable(length, store, str(plain))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 5, 64, 1 << 16]),
)
@example([b"\xef\xbb\xbf"], False, False, False, 1)  # a first line that is a BOM's bytes
def test_text_lines_round_trip(lines, crlf, bom, eof_mark, chunk):
    """Any lines, LF or CRLF, with or without a BOM and a final 0x1A, read in any chunk size:
    the non-empty lines come back in order at their offsets, every byte accounted for."""
    from ikou.mainframe.framing_text import text_chunks

    eol = b"\r\n" if crlf else b"\n"
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(x + eol for x in lines)
    data += b"\x1a" if eof_mark else b""
    chs = list(text_chunks(io.BytesIO(data), chunk_bytes=chunk))
    if not bom and lines and lines[0].startswith(b"\xef\xbb\xbf"):
        # a file that begins with EF BB BF begins with a BOM, whatever wrote it (any text reader)
        bom, lines = True, [lines[0][3:], *lines[1:]]
    want, offs, pos = [], [], 3 if bom else 0
    for x in lines:
        if x:
            want.append(x)
            offs.append(pos)
        pos += len(x) + len(eol)
    assert recs(chs) == want
    assert [int(o) for c in chs for o in c.offsets] == offs
    assert sum(c.bytes_read for c in chs) == len(data)


@settings(max_examples=80, deadline=None)
@given(
    st.binary(max_size=300),
    st.integers(0, 40),
    st.integers(0, 40),
    st.lists(st.integers(1, 50), min_size=1, max_size=20),
)
def test_window_skips_start_and_end_whatever_the_reads(data, skip, trim, sizes):
    from ikou.mainframe.reader import Window

    w = Window(io.BytesIO(data), skip, trim)
    got = b""
    i = 0
    while True:
        piece = w.read(sizes[i % len(sizes)])
        i += 1
        if not piece:
            break
        got += piece
    want = data[skip:]
    want = want[: max(0, len(want) - trim)]
    assert got == want
    assert w.skipped + len(got) + w.cut == len(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=30), st.sampled_from([0, 2, -2]))
def test_length_field_records_round_trip(payloads, adjust):
    """Records whose first two bytes hold their length (minus ``adjust``) frame exactly."""
    from ikou.mainframe.framing_variable import RecordLength, length_field_chunks

    data = b"".join((2 + len(p) - adjust).to_bytes(2, "big") + p for p in payloads)
    length = RecordLength(0, 2, lambda raw: int.from_bytes(raw, "big"), "LEN")
    if 2 - adjust <= 0:
        return
    chs = list(length_field_chunks(io.BytesIO(data), length, adjust=adjust, chunk_bytes=17))
    assert recs(chs) == [(2 + len(p) - adjust).to_bytes(2, "big") + p for p in payloads]
    assert sum(c.bytes_read for c in chs) == len(data)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=12),
    st.sampled_from(["V", "VB", "VS", "VBS"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    st.integers(0, 10_000),
    st.sampled_from([0, 4, -4]),
    st.booleans(),
)
def test_broken_v_files_never_crash(data, recfm, edits, cut, adjust, little):
    """Whatever bytes are flipped or cut: either the first descriptor is refused
    (RecordFormatError) or every byte is accounted for in records and broken records."""
    items = [rdw(len(p), little=little) + p for p in data]
    if recfm.startswith("VB"):
        raw = b"".join(bdw(len(x), little=little) + x for x in items)
    else:
        raw = b"".join(items)
    buf = bytearray(raw)
    for at, value in edits:
        buf[at % len(buf)] = value
    raw = bytes(buf[: max(0, len(buf) - cut % (len(buf) + 1))])
    from ikou.mainframe.framing_variable import variable_chunks

    try:
        chs = list(
            variable_chunks(
                io.BytesIO(raw),
                blocked=recfm.startswith("VB"),
                spanned=recfm.endswith("S"),
                rdw_adjust=adjust,
                little=little,
                chunk_bytes=64,
            )
        )
    except RecordFormatError:
        return
    assert sum(c.bytes_read for c in chs) == len(raw)
    nums = sorted(
        [int(x) for c in chs for x in c.record_no] + [b.record_no for c in chs for b in c.broken]
    )
    assert nums == list(range(len(nums)))  # every record and broken record numbered once


def test_binary_keys_that_look_like_a_magic_are_not_compression():
    from ikou.mainframe.compression import sniff

    assert sniff(b"\x1f\x8b\x08\xe0\x00\x01") is None  # gzip's reserved flag bits set
    assert sniff(b"\x1f\x9d\x00\x00\x00\x01") is None  # compress: no bit count
    assert sniff(b"\x1f\x9d\x90\x41") == "Z" and sniff(gzip.compress(b"x")) == "gzip"
    rec = b"\x1f\x9d\x00\x07" + b"\xc1" * 6  # an F file whose first field is binary
    assert recs(frames(rec * 3, "FB", 10)) == [rec] * 3
