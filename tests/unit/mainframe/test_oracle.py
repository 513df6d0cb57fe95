"""The vectorised decoders against the JDK oracle corpus (tests/data/oracle/jdk_corpus.tsv).

The corpus (synthetic names and addresses) holds the bytes the JDK's x-IBM930 / x-IBM939
encoders produce and the JDK decoder's text; the engine decodes the same bytes in one matrix per
field kind with the ``jdk`` variant of the code pages (the wave-dash family as the JDK maps it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ikou.mainframe.decode import REASONS, TextTables, decode_dbcs, decode_mixed, decode_sbcs

CORPUS = Path(__file__).resolve().parents[2] / "data" / "oracle" / "jdk_corpus.tsv"


def _rows():
    assert CORPUS.exists(), f"the JDK oracle corpus {CORPUS} is missing (it is committed)"
    lines = [
        x for x in CORPUS.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")
    ]
    return [r for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE) if r["hex"]]


def _matrix(raws: list[bytes], pad: bytes) -> np.ndarray:
    w = max(len(r) for r in raws)
    w += w % len(pad)
    padded = [r + pad * ((w - len(r)) // len(pad)) for r in raws]
    return np.frombuffer(b"".join(padded), np.uint8).reshape(len(raws), w)


@pytest.mark.parametrize("charset,name", [("IBM930", "cp930"), ("IBM939", "cp939")])
def test_engine_matches_jdk_oracle(charset, name):
    from ikou.moji.codepages import get_codepage

    rows = [r for r in _rows() if r["charset"] == charset]
    assert rows, f"no {charset} rows in the oracle corpus"
    t = TextTables(get_codepage(name, "jdk"), name)
    # the whole corpus through the mixed decoder (bytes with SO/SI as the JDK wrote them)
    mixed = [bytes.fromhex(r["hex"]) for r in rows]
    e = decode_mixed(_matrix(mixed, b"\x40"), t)
    assert [REASONS[x] for x in e.bad.tolist()] == [""] * len(rows)
    got = e.array.to_pylist()
    want = [r["decoded"].rstrip(" \u3000") for r in rows]
    assert got == want
    # DBCS-only fields (x-IBM300 bytes, no shift codes)
    dbcs = [r for r in rows if r["dbcs_hex"]]
    if dbcs:
        e = decode_dbcs(_matrix([bytes.fromhex(r["dbcs_hex"]) for r in dbcs], b"\x40\x40"), t)
        assert e.array.to_pylist() == [r["decoded"].rstrip("\u3000") for r in dbcs]
    sb = [r for r in rows if r["kind"] == "sbcs"]
    if sb:
        e = decode_sbcs(_matrix([bytes.fromhex(r["hex"]) for r in sb], b"\x40"), t)
        assert e.array.to_pylist() == [r["decoded"].rstrip(" ") for r in sb]


# ------------------------------------------------------------------ through the engine (decode_file)

#: the wave-dash family: DBCS code -> (jis variant, jdk variant); 0x4260 differs in x-IBM939 only
WAVE_930 = {
    0x43A1: ("\u301c", "\uff5e"),
    0x444A: ("\u2014", "\u2015"),
    0x447C: ("\u2016", "\u2225"),
    0x426A: ("\u00a6", "\uffe4"),
    0x4260: ("\u2212", "\u2212"),
}
WAVE_939 = {**WAVE_930, 0x4260: ("\u2212", "\uff0d")}
WAVE = {"cp930": WAVE_930, "cp939": WAVE_939}
JDK_TO_JIS = {name: {jdk: jis for jis, jdk in table.values()} for name, table in WAVE.items()}

ORACLE_CPY = """\
000100 01  ORACLE-REC.
000200     05  ROW-KIND            PIC X.
000300     05  MIXED-TEXT          PIC X(80).
000400     05  KANJI-TEXT          PIC N(40).
000500     05  SBCS-TEXT           PIC X(40).
"""


def _oracle_file(rows) -> bytes:
    """One 201-byte record per corpus row: the JDK's bytes in a mixed, a DBCS and an SBCS field."""
    recs = []
    for r in rows:
        mixed = bytes.fromhex(r["hex"])
        kanji = bytes.fromhex(r["dbcs_hex"]) if r["dbcs_hex"] else b""
        sbcs = bytes.fromhex(r["hex"]) if r["kind"] == "sbcs" else b""
        recs.append(
            b"\xe2"
            + mixed.ljust(80, b"\x40")
            + kanji
            + b"\x40\x40" * ((80 - len(kanji)) // 2)
            + sbcs.ljust(40, b"\x40")
        )
    return b"".join(recs)


@pytest.mark.parametrize("variant", ["jdk", "jis"])
@pytest.mark.parametrize("charset,name", [("IBM930", "cp930"), ("IBM939", "cp939")])
def test_engine_decode_file_matches_jdk_oracle(charset, name, variant):
    """The whole corpus as a file through decode_file (chunks, field views, kernel + numpy)."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_file

    rows = [r for r in _rows() if r["charset"] == charset]
    assert rows, f"no {charset} rows in the oracle corpus"
    assert max(len(r["hex"]) for r in rows) <= 160 and max(len(r["dbcs_hex"]) for r in rows) <= 160
    cb = parse_copybook(ORACLE_CPY, source="oracle.cpy")
    run = decode_file(
        _oracle_file(rows),
        cb,
        encoding=name,
        variant=variant,
        recfm="FB",
        mixed_fields=("MIXED-TEXT",),
        chunk_bytes=201 * 7,
    )
    got = [r for c in run for r in c.batch.to_pylist()]
    assert run.summary.quarantined == 0 and run.summary.records_out == len(rows)

    def want(text: str) -> str:
        if variant == "jis":  # the JDK's wave-dash family characters read the JIS way
            text = "".join(JDK_TO_JIS[name].get(c, c) for c in text)
        return text

    assert [g["MIXED-TEXT"] for g in got] == [want(r["decoded"].rstrip(" \u3000")) for r in rows]
    assert [g["KANJI-TEXT"] for g in got] == [
        want(r["decoded"].rstrip("\u3000")) if r["dbcs_hex"] else "" for r in rows
    ]
    assert [g["SBCS-TEXT"] for g in got] == [
        r["decoded"].rstrip(" ") if r["kind"] == "sbcs" else "" for r in rows
    ]


WAVE_CPY = """\
000100 01  WAVE-REC.
000200     05  CODE-HEX            PIC X(4).
000300     05  KANJI               PIC N(3).
000400     05  MIXED               PIC X(10).
"""


@pytest.mark.parametrize("name", ["cp930", "cp939"])
@pytest.mark.parametrize("variant", ["jis", "jdk"])
def test_engine_wave_dash_family_both_variants(name, variant):
    """Each wave-dash code in a DBCS field and inside SO/SI, decoded by decode_file per variant."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_file
    from ikou.moji.codepages import get_codepage

    cp = get_codepage(name)
    cb = parse_copybook(WAVE_CPY, source="wave.cpy")
    recs = []
    for code in WAVE[name]:
        raw = code.to_bytes(2, "big")
        recs.append(
            cp.encode_sbcs(f"{code:04X}")
            + b"\x42\x60"
            + raw
            + b"\x40\x40"
            + (cp.encode_sbcs("A") + b"\x0e" + raw + raw + b"\x0f" + cp.encode_sbcs("Z")).ljust(
                10, b"\x40"
            )
        )
    run = decode_file(
        b"".join(recs), cb, encoding=name, variant=variant, recfm="FB", mixed_fields=("MIXED",)
    )
    got = {r["CODE-HEX"]: r for c in run for r in c.batch.to_pylist()}
    assert run.summary.quarantined == 0
    minus = WAVE[name][0x4260][0 if variant == "jis" else 1]  # 0x4260 itself, before each code
    for code, (jis, jdk) in WAVE[name].items():
        ch = jis if variant == "jis" else jdk
        row = got[f"{code:04X}"]
        assert row["KANJI"] == minus + ch, (name, variant, hex(code))
        assert row["MIXED"] == "A" + ch + ch + "Z", (name, variant, hex(code))
    if variant == "jdk":
        assert got["4260"]["KANJI"].endswith("\uff0d" if name == "cp939" else "\u2212")
