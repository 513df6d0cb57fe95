"""Record framing: F / FB / V / VB, chunking, broken records, byte ranges."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ikou.mainframe.encode import frame_records
from ikou.mainframe.reader import RecordFormatError, byte_ranges, iter_record_chunks


def chunks(data: bytes, recfm: str, lrecl=None, chunk_bytes=1 << 20, **kw):
    return list(iter_record_chunks(io.BytesIO(data), recfm, lrecl, chunk_bytes=chunk_bytes, **kw))


def records(chs) -> list[bytes]:
    return [c.raw(i) for c in chs for i in range(len(c))]


def test_fixed_chunks_are_bounded_and_numbered():
    recs = [bytes([i]) * 10 for i in range(25)]
    chs = chunks(b"".join(recs), "FB", 10, chunk_bytes=64)
    assert [len(c) for c in chs] == [6, 6, 6, 6, 1]
    assert records(chs) == recs
    assert np.concatenate([c.record_no for c in chs]).tolist() == list(range(25))
    assert np.concatenate([c.offsets for c in chs]).tolist() == [10 * i for i in range(25)]
    assert sum(c.bytes_read for c in chs) == 250


def test_fixed_truncated_last_record():
    chs = chunks(b"A" * 10 + b"B" * 10 + b"C" * 4, "F", 10)
    assert records(chs) == [b"A" * 10, b"B" * 10]
    (br,) = [b for c in chs for b in c.broken]
    assert (br.record_no, br.offset, br.reason, br.raw, br.length) == (
        2,
        20,
        "truncated_record",
        b"CCCC",
        4,
    )


def test_fixed_byte_ranges():
    data = b"".join(bytes([i]) * 8 for i in range(10))
    parts = byte_ranges(len(data), 8, 3)
    assert parts == [(0, 32), (32, 64), (64, 80)]
    got = []
    for s, e in parts:
        for c in chunks(data, "FB", 8, start=s, end=e):
            got += list(zip(c.record_no.tolist(), [c.raw(i) for i in range(len(c))]))
    assert got == [(i, bytes([i]) * 8) for i in range(10)]
    with pytest.raises(RecordFormatError):
        chunks(data, "FB", 8, start=3)


def test_variable_records_across_chunk_boundaries():
    recs = [bytes([65 + i % 26]) * (1 + (i * 7) % 50) for i in range(300)]
    data = frame_records(recs, "V")
    chs = chunks(data, "V", chunk_bytes=1 << 17)
    assert records(chs) == recs
    offs = np.concatenate([c.offsets for c in chs]).tolist()
    expect, p = [], 0
    for r in recs:
        expect.append(p)
        p += len(r) + 4
    assert offs == expect
    assert sum(c.bytes_read for c in chs) == len(data)


def test_variable_small_chunks():
    from ikou.mainframe.framing_variable import variable_chunks

    recs = [bytes([i % 250]) * (10 + i % 30) for i in range(2000)]
    data = frame_records(recs, "VB", block_size=600)
    got = list(variable_chunks(io.BytesIO(data), blocked=True, chunk_bytes=1000))
    assert records(got) == recs
    assert len(got) > 10


def test_vb_blocks():
    recs = [b"X" * n for n in (5, 17, 1, 40, 3)]
    data = frame_records(recs, "VB", block_size=60)
    chs = chunks(data, "VB")
    assert records(chs) == recs
    assert np.concatenate([c.record_no for c in chs]).tolist() == [0, 1, 2, 3, 4]


def test_first_descriptor_wrong_is_a_format_error():
    with pytest.raises(RecordFormatError, match="not a RECFM V file"):
        chunks(b"\xf1\xf2\xf3\xf4" * 10, "V")
    with pytest.raises(RecordFormatError, match="not a RECFM VB file"):
        chunks(b"\xf1\xf2\xf3\xf4" * 10, "VB")
    with pytest.raises(RecordFormatError, match="unknown RECFM"):
        chunks(b"", "U")
    with pytest.raises(RecordFormatError, match="LRECL"):
        chunks(b"abc", "FB")


def test_bad_rdw_mid_file_v():
    data = frame_records([b"AAAA", b"BBBB"], "V") + b"\x00\x02\x00\x00GARBAGE"
    chs = chunks(data, "V")
    assert records(chs) == [b"AAAA", b"BBBB"]
    (br,) = [b for c in chs for b in c.broken]
    assert (br.record_no, br.reason, br.offset, br.length) == (2, "bad_rdw", 16, 11)
    assert br.raw == b"\x00\x02\x00\x00GARBAGE"


def test_bad_rdw_in_vb_block_skips_to_next_block():
    good1 = frame_records([b"AAAA", b"BBBB"], "VB")
    broken_block = b"\x00\x10\x00\x00" + b"\x00\x05\x00\x00C" + b"\x00\xff\x00\x00ZZZ"
    good2 = frame_records([b"DDDD"], "VB")
    chs = chunks(good1 + broken_block + good2, "VB")
    assert records(chs) == [b"AAAA", b"BBBB", b"C", b"DDDD"]
    (br,) = [b for c in chs for b in c.broken]
    assert (br.record_no, br.reason, br.length) == (3, "bad_rdw", 7)
    assert np.concatenate([c.record_no for c in chs]).tolist() == [0, 1, 2, 4]


def test_bad_bdw_mid_file():
    data = frame_records([b"AAAA"], "VB") + b"\xf1\xf2\xf3\xf4\xf5"
    chs = chunks(data, "VB")
    (br,) = [b for c in chs for b in c.broken]
    assert (br.reason, br.length) == ("bad_bdw", 5)


def test_truncated_variable_record():
    data = frame_records([b"AAAA", b"BBBBBBBB"], "V")[:-3]
    chs = chunks(data, "V")
    assert records(chs) == [b"AAAA"]
    (br,) = [b for c in chs for b in c.broken]
    assert (br.reason, br.record_no, br.length) == ("truncated_record", 1, 9)


def test_truncated_descriptor_at_end():
    data = frame_records([b"AAAA"], "V") + b"\x00\x09"
    (br,) = [b for c in chunks(data, "V") for b in c.broken]
    assert br.reason == "truncated_record" and br.length == 2


def test_large_block_interface_bdw():
    inner = b"\x00\x08\x00\x00ABCD"
    bdw = (0x80000000 | (len(inner) + 4)).to_bytes(4, "big")
    assert records(chunks(bdw + inner, "VB")) == [b"ABCD"]


def test_empty_files():
    assert chunks(b"", "FB", 10) == []
    assert chunks(b"", "V") == []
