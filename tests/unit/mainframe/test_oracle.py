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
    if not CORPUS.exists():  # pragma: no cover - the corpus belongs to the code-page work
        return []
    lines = [x for x in CORPUS.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
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
    if not rows:
        pytest.skip("no oracle corpus")
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
