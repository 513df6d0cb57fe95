"""The vectorised open-system text decoder against the scalar codecs (hypothesis), and ASCII
overpunch against a direct reading of the digits."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.mainframe.decode import REASONS, TextTables
from ikou.mainframe.decode.multibyte import ascii_zoned, decode_multibyte
from ikou.mainframe.decode.tables import MultibyteTables
from ikou.moji.codepages import get_codepage

ENCODINGS = ("utf-8", "cp932", "euc-jp")


def _chars(name: str) -> list[str]:
    cp = get_codepage(name)
    if name == "utf-8":
        return [chr(c) for c in (*range(0x21, 0x7F), 0xE9, 0x3042, 0x6F22, 0xFF71, 0x1F600)]
    return sorted(ch for ch in cp.encoding_map if ch.isprintable() and ch != " ")[:4000]


CHARS = {n: _chars(n) for n in ENCODINGS}


def _matrix(raws: list[bytes], width: int) -> np.ndarray:
    return np.frombuffer(b"".join(r.ljust(width, b" ") for r in raws), np.uint8).reshape(
        len(raws), width
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ENCODINGS), st.data())
def test_vectorised_equals_scalar(name, data):
    cp = get_codepage(name)
    texts = data.draw(
        st.lists(
            st.text(st.sampled_from(CHARS[name] + [" "]), max_size=12), min_size=1, max_size=20
        )
    )
    raws = [cp.encode(t) for t in texts]
    width = max(max(len(r) for r in raws), 1)
    t = MultibyteTables(cp, name)
    e = decode_multibyte(_matrix(raws, width), t)
    assert [REASONS[x] for x in e.bad.tolist()] == [""] * len(texts)
    assert e.array.to_pylist() == [cp.decode(r).rstrip(" ") for r in raws]
    assert e.array.to_pylist() == [x.rstrip(" ") for x in texts]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ENCODINGS), st.binary(min_size=1, max_size=16))
def test_any_bytes_either_decode_like_the_scalar_codec_or_are_flagged(name, raw):
    cp = get_codepage(name)
    e = decode_multibyte(_matrix([raw], len(raw)), MultibyteTables(cp, name, None, "pua"))
    try:
        want = cp.decode(raw.rstrip(b" ")).rstrip(" \x00")
    except ValueError:
        want = None
    if want is None:
        assert e.bad[0] != 0
    elif e.bad[0] == 0:
        assert e.array.to_pylist()[0] == want


def test_cut_character_and_undefined_codes_are_flagged_with_position():
    cp = get_codepage("cp932")
    t = MultibyteTables(cp, "cp932")
    m = _matrix([b"AB\x88", b"A\x85\x40", b"\x80Z"], 3)  # lead at the end; unassigned; 0x80
    e = decode_multibyte(m, t)
    assert [REASONS[x] for x in e.bad.tolist()] == [
        "undecodable_dbcs",
        "undecodable_dbcs",
        "undefined_sbcs",
    ]
    assert e.pos.tolist() == [2, 1, 0]


def test_ascii_overpunch_reads_like_the_digits():
    rng = np.random.default_rng(7)
    vals = rng.integers(-99999, 99999, 200)
    pos = "{ABCDEFGHI"
    neg = "}JKLMNOPQR"
    raws = []
    for v in vals.tolist():
        s = f"{abs(v):05d}"
        last = (neg if v < 0 else pos)[int(s[-1])]
        raws.append((s[:-1] + last).encode())
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.decode import decode_elements

    f = parse_copybook("       01 R.\n           05 A PIC S9(3)V99.\n").record().field("A")
    tables = TextTables(get_codepage("ascii"), "ascii")
    b = np.frombuffer(b"".join(raws), np.uint8).reshape(len(raws), 5)
    e = decode_elements(b, f, tables)
    assert e.array.to_pylist() == [Decimal(v).scaleb(-2) for v in vals.tolist()]
    assert ascii_zoned(np.frombuffer(b"12+-", np.uint8)).tolist() == [0xF1, 0xF2, 0x4E, 0x60]
    # the other ASCII convention for a negative last digit: 0x70-0x79 ('p'-'y')
    mf = np.frombuffer(b"00012p00012y", np.uint8).reshape(2, 6)
    f6 = parse_copybook("       01 R.\n           05 A PIC S9(4)V99.\n").record().field("A")
    e = decode_elements(mf, f6, tables)
    assert e.array.to_pylist() == [Decimal("-1.20"), Decimal("-1.29")]
