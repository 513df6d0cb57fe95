"""Western EBCDIC and open-system code pages against independent oracles: the JDK's own charsets
(run here, tests/unit/mainframe/oracle/CharsetDump.java) and glibc iconv; then through the
engine (decode_file) on files built byte by byte."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.decode import TextTables, decode_sbcs
from ikou.mainframe.engine import decode_file
from ikou.moji.codepages import WESTERN_CODEPAGES, canonical_name, get_codepage

DUMP = Path(__file__).resolve().parent / "oracle" / "CharsetDump.java"


def jdk_name(cp: str) -> str:
    n = int(cp[2:])
    return f"IBM{n:05d}" if n >= 1140 else f"IBM{n:03d}"


def jdk_dump(mode: str, charsets: list[str]) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        ["java", str(DUMP), mode, *charsets],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    got: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        cs, code, cps = line.split("\t")
        got.setdefault(cs, {})[code] = cps
    return got


def ours(cp, raw: bytes) -> str:
    try:
        text = cp.decode_sbcs(raw) if len(raw) == 1 else cp.decode(raw)
    except ValueError:
        return "-"
    return " ".join(f"{ord(c):04X}" for c in text) or "-"


@pytest.fixture(scope="module")
def jdk_western():
    return jdk_dump("sbcs", [jdk_name(c) for c in WESTERN_CODEPAGES])


@pytest.mark.parametrize("name", WESTERN_CODEPAGES)
def test_western_tables_equal_the_jdk_for_every_byte(name, jdk_western):
    cp = get_codepage(name)
    want = jdk_western[jdk_name(name)]
    assert len(want) == 256
    diffs = {
        code: (w, ours(cp, bytes.fromhex(code)))
        for code, w in want.items()
        if ours(cp, bytes.fromhex(code)) != w
    }
    # the JDK (like z/OS Unicode Services) decodes EBCDIC NL 0x15 to LF; iconv and ICU to NEL
    # U+0085, which the tables follow (as for cp930 / cp939); every other byte is the same
    # (cp1047 also the other way round: 0x25 LF in the tables, NEL in the JDK)
    assert diffs == (
        {"15": ("000A", "0085"), "25": ("0085", "000A")}
        if name == "cp1047"
        else {"15": ("000A", "0085")}
    )


#: glibc's IBM278 / IBM285 / IBM871 differ from ICU, the JDK and glibc's own euro variants
#: (IBM1143 / IBM1146 / IBM1149) on these bytes; the tables follow ICU and the JDK
GLIBC_DIFFERS = {"cp278": {0x71, 0xE0}, "cp285": {0xA1}, "cp871": {0x4A, 0xC0}}


@pytest.mark.parametrize("name", WESTERN_CODEPAGES)
def test_western_tables_equal_iconv_and_icu(name):
    n = int(name[2:])
    raw = bytes(range(256))
    cp = get_codepage(name)
    ours_ = [int(x) for x in cp.sbcs]
    for cmd in (["iconv", "-f", f"IBM{n:03d}"], ["uconv", "-f", f"ibm-{n}"]):
        out = subprocess.run(
            [*cmd, "-t", "UTF-32BE"], input=raw, capture_output=True, check=True, timeout=60
        ).stdout
        theirs = [int.from_bytes(out[i : i + 4], "big") for i in range(0, len(out), 4)]
        differ = {b for b in range(256) if theirs[b] != ours_[b]}
        assert differ == (GLIBC_DIFFERS.get(name, set()) if cmd[0] == "iconv" else set()), cmd


def test_python_codecs_agree_where_python_has_the_page():
    diffs = []
    for name in ("cp037", "cp273", "cp500", "cp1140"):
        cp = get_codepage(name)
        for b in range(256):
            if cp.decode_sbcs(bytes([b])) != bytes([b]).decode(name):
                diffs.append((name, b))
    # Python's cp273 decodes 0xBC to U+203E OVERLINE; IBM, iconv, ICU and the JDK to U+00AF
    assert diffs == [("cp273", 0xBC)]
    assert get_codepage("cp273").decode_sbcs(b"\xbc") == "\u00af"


def test_euro_and_national_letters():
    assert get_codepage("cp1140").decode_sbcs(b"\x9f") == "€"
    assert get_codepage("cp037").decode_sbcs(b"\x9f") == "¤"
    assert get_codepage("cp1141").decode_sbcs(b"\xc0\xd0") == "äü"  # German
    assert get_codepage("cp1047").decode_sbcs(b"\xad\xbd") == "[]"  # the Open Systems page
    assert get_codepage("cp037").decode_sbcs(b"\xba\xbb") == "[]"
    for alias in ("IBM-1047", "037", "CCSID1140", "ibm1149"):
        assert canonical_name(alias) in WESTERN_CODEPAGES


def test_cp932_equals_the_jdk_windows_31j():
    want = jdk_dump("cp932", ["windows-31j"])["windows-31j"]
    cp = get_codepage("cp932")
    diffs = {
        c: (w, ours(cp, bytes.fromhex(c)))
        for c, w in want.items()
        if ours(cp, bytes.fromhex(c)) != w
    }
    assert not diffs, list(diffs.items())[:10]
    assert ours(cp, b"\x81\x60") == "FF5E"  # Microsoft's table: wave dash is FULLWIDTH TILDE
    assert ours(cp, b"\xf0\x40") == "E000" and ours(cp, b"\xf9\xfc") == "E757"


def test_euc_jp_is_eucjp_ms_as_iconv_decodes_it():
    cp = get_codepage("euc-jp")
    codes = [bytes([0x8E, t]) for t in range(0xA1, 0xE0)]
    codes += [bytes([h, t]) for h in range(0xA1, 0xFF) for t in range(0xA1, 0xFF)]
    codes += [bytes([0x8F, h, t]) for h in range(0xA1, 0xFF) for t in range(0xA1, 0xFF)]
    mismatch = []
    # one iconv run per code would take minutes: decode them all in one stream, each code
    # followed by LF, and compare code by code (an undecodable code is checked alone)
    data = b"".join(c + b"\n" for c in codes)
    out = subprocess.run(
        ["iconv", "-c", "-f", "EUC-JP-MS", "-t", "UTF-8"],
        input=data,
        capture_output=True,
        timeout=300,
    ).stdout.decode("utf-8")
    pieces = out.split("\n")[:-1]
    assert len(pieces) == len(codes)
    for c, want in zip(codes, pieces):
        try:
            got = cp.decode(c)
        except ValueError:
            got = ""
        if got != want:
            mismatch.append((c.hex(), want, got))
    assert not mismatch, mismatch[:10]
    assert cp.decode(b"\xa1\xc1") == "\uff5e"  # eucJP-ms: Microsoft-compatible wave dash
    assert cp.decode(b"\xf5\xa1") == "\ue000" and cp.decode(b"\x8f\xfe\xfe") == "\ue757"
    assert cp.decode(b"\x8f\xb0\xa1") == "丂"  # JIS X 0212 via 0x8F


CPY = """\
       01  W-REC.
           05  W-NAME    PIC X(10).
           05  W-AMT     PIC S9(3)V99.
           05  W-PACK    PIC S9(3) COMP-3.
"""


@pytest.mark.parametrize("name", WESTERN_CODEPAGES)
def test_engine_decodes_a_western_file(name):
    """Every byte a name field can hold (0x41-0xFE) through decode_file, against the table."""
    cp = get_codepage(name)
    cb = parse_copybook(CPY, source="w.cpy")
    names = [bytes(range(s, s + 10)) for s in range(0x41, 0xF5, 10)]
    recs = [n + b"\xf1\xf2\xf3\xf4\xd5" + b"\x12\x3d" for n in names]
    run = decode_file(b"".join(recs), cb, encoding=name, recfm="FB")
    rows = [r for c in run for r in c.batch.to_pylist()]
    assert run.summary.quarantined == 0
    assert [r["W-NAME"] for r in rows] == [cp.decode_sbcs(n).rstrip(" ") for n in names]
    assert {r["W-AMT"] for r in rows} == {Decimal("-123.45")}
    assert {r["W-PACK"] for r in rows} == {Decimal(-123)}


def test_sbcs_matrix_matches_scalar_decoder_for_every_western_page():
    m = np.frombuffer(bytes(range(256)), np.uint8).reshape(16, 16)
    for name in WESTERN_CODEPAGES:
        cp = get_codepage(name)
        e = decode_sbcs(m, TextTables(cp, name), keep_padding=True)
        assert e.array.to_pylist() == [cp.decode_sbcs(bytes(r)) for r in m], name
