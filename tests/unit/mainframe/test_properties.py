"""Property tests: random and mutated bytes never crash the engine nor lose a record."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.mainframe.encode import frame_records
from ikou.mainframe.engine import decode_file
from ikou.mainframe.reader import RecordFormatError

from .conftest import PEOPLE, juki_options, juki_records

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
INTERESTING = [0x0E, 0x0F, 0x40, 0x69, 0x41, 0xFA, 0x4B, 0x00, 0xFF, 0xC4, 0xD3, 0x01]


def mutate(data: bytes, edits, cut):
    b = bytearray(data)
    for pos, val in edits:
        if b:
            b[pos % len(b)] = val
    if cut is not None and b:
        del b[cut % len(b):]
    return bytes(b)


edits_st = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(INTERESTING) | st.integers(0, 255)), max_size=12)


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
@given(edits=edits_st, cut=st.none() | st.integers(0, 10_000), policy=st.sampled_from(["placeholder", "quarantine"]))
def test_fb_mutations(juki_cb, cp930, edits, cut, policy):
    data = mutate(frame_records(juki_records(juki_cb, cp930, PEOPLE * 2), "FB"), edits, cut)
    s = _decode(data, juki_cb, juki_options(gaiji_policy=policy, chunk_bytes=500))
    assert s.records_in == -(-len(data) // 120)
    assert s.bytes_read == len(data)


@SETTINGS
@given(edits=edits_st, cut=st.none() | st.integers(0, 10_000), recfm=st.sampled_from(["V", "VB"]))
def test_variable_mutations(juki_cb, cp930, edits, cut, recfm):
    data = mutate(frame_records(juki_records(juki_cb, cp930, PEOPLE * 2), recfm, block_size=400), edits, cut)
    try:
        s = _decode(data, juki_cb, juki_options(recfm=recfm, chunk_bytes=1 << 16))
    except RecordFormatError:
        return  # only when the very first descriptor is wrong
    assert s.bytes_read == len(data)


@SETTINGS
@given(blob=st.binary(min_size=0, max_size=2000), recfm=st.sampled_from(["F", "FB", "V", "VB"]))
def test_random_bytes(juki_cb, blob, recfm):
    try:
        _decode(blob, juki_cb, juki_options(recfm=recfm))
    except RecordFormatError:
        assert recfm in ("V", "VB")
