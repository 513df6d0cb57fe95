"""Record-structure pieces on their own: length field readers, segments across chunks, the pua
外字 policy of the IBM code pages."""

from __future__ import annotations

import pytest

from ikou.errors import BadArgument
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.engine import decode_file
from ikou.mainframe.structure import length_reader

LEN_CPY = """\
       01  R.
           05  L-BIN     PIC 9(4) COMP.
           05  L-ZON     PIC 9(4).
           05  L-PCK     PIC S9(5) COMP-3.
           05  L-TXT     PIC X(4).
           05  L-TAB     PIC 9 OCCURS 2.
           05  L-FLT     COMP-2.
"""


@pytest.fixture(scope="module")
def lay():
    return parse_copybook(LEN_CPY, source="len.cpy").record()


def test_length_readers(lay):
    assert length_reader(lay.field("L-BIN"), 0, False).value(b"\x01\x2c") == 300
    z = length_reader(lay.field("L-ZON"), 0, False)
    assert z.value(b"\xf0\xf3\xf0\xf0") == 300 and z.value(b"\xf0\xf3\xc1\xf0") is None
    za = length_reader(lay.field("L-ZON"), 0, True)
    assert za.value(b"0300") == 300 and za.value(b"030}") == -300 and za.value(b"03x0") is None
    p = length_reader(lay.field("L-PCK"), 0, False)
    assert p.value(b"\x00\x30\x0c") == 300 and p.value(b"\x00\x30\x0d") == -300
    assert p.value(b"\x00\x3a\x0c") is None
    t = length_reader(lay.field("L-TXT"), 0, False)
    assert t.value(b" 300") == 300 and t.value(b"\xf0\xf3\xf0\xf0") == 300
    moved = length_reader(lay.field("L-BIN"), 6, False)
    assert moved.offset == 6 and moved.size == 2
    for bad in ("L-TAB", "L-FLT"):
        with pytest.raises(BadArgument):
            length_reader(lay.field(bad), 0, False)


SEG_CPY = """\
       01  P-REC.
           05  P-TYPE    PIC X.
           05  P-KEY     PIC X(3).
       01  C-REC.
           05  C-TYPE    PIC X.
           05  C-ITEM    PIC X(3).
"""


def test_segments_link_across_chunks():
    cb = parse_copybook(SEG_CPY, source="seg.cpy")
    e = lambda s: s.encode("cp037")  # noqa: E731
    recs = [e("PK01"), e("CA01"), e("CA02"), e("PK02"), e("CB01"), e("CB02"), e("CB03")]
    run = decode_file(
        b"".join(recs),
        cb,
        encoding="cp037",
        recfm="FB",
        record_type_field="P-TYPE",
        record_types={"P": "P-REC", "C": "C-REC"},
        segment_parents={"C-REC": "P-REC"},
        segment_keys={"P-REC": ("P-KEY",)},
        chunk_bytes=8,  # two records a chunk: parents and children in different chunks
    )
    kids = [r for c in run for r in c.batches["C-REC"].to_pylist()]
    assert [(r["C-ITEM"], r["_parent_record"], r["_parent_key"]) for r in kids] == [
        ("A01", 0, "K01"),
        ("A02", 0, "K01"),
        ("B01", 3, "K02"),
        ("B02", 3, "K02"),
        ("B03", 3, "K02"),
    ]


def test_segment_options_name_real_layouts_and_fields():
    cb = parse_copybook(SEG_CPY, source="seg.cpy")
    base = dict(
        encoding="cp037",
        recfm="FB",
        record_type_field="P-TYPE",
        record_types={"P": "P-REC", "C": "C-REC"},
    )
    with pytest.raises(BadArgument, match="X-REC"):
        decode_file(b"", cb, segment_parents={"X-REC": "P-REC"}, **base)
    with pytest.raises(BadArgument, match="NOPE"):
        decode_file(
            b"", cb, segment_parents={"C-REC": "P-REC"}, segment_keys={"P-REC": ("NOPE",)}, **base
        )


PUA_CPY = """\
       01  K-REC.
           05  K-NAME    PIC N(2).
"""


@pytest.mark.parametrize(
    "name,code,policy,want",
    [
        ("cp930", b"\x69\x41", "pua", "\ue000"),
        ("cp930", b"\x7f\xfe", "pua", "\uf111"),
        ("cp1390", b"\x89\xbd", "pua", "\uf83c"),
        ("cp930", b"\x69\x41", "placeholder", "\u3013"),
    ],
)
def test_pua_policy_for_ibm_user_defined_area(name, code, policy, want):
    cb = parse_copybook(PUA_CPY, source="k.cpy")
    run = decode_file(code + b"\x40\x40", cb, encoding=name, recfm="FB", gaiji_policy=policy)
    rows = [r for c in run for r in c.batch.to_pylist()]
    assert rows[0]["K-NAME"] == want
    assert run.summary.gaiji_unmapped == 1  # reported either way
