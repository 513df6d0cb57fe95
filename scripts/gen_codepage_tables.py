#!/usr/bin/env python3
"""Regenerate the code-page tables in ``include/ikou/moji/tables/`` from glibc ``iconv``.

Run from the repository root (needs GNU libc's ``iconv`` program; ICU's ``uconv`` only for
``--icu``)::

    .venv/bin/python scripts/gen_codepage_tables.py          # write the tables (~10 s)
    .venv/bin/python scripts/gen_codepage_tables.py --check  # write nothing; exit 1 on a change
    .venv/bin/python scripts/gen_codepage_tables.py --icu    # also print where ICU disagrees

What is probed
--------------
* SBCS: every byte 0x00-0xFF, decoded alone through ``IBM930``, ``IBM939``, ``IBM1390``,
  ``IBM1399``.
* DBCS: every code 0x4040-0xFEFE, decoded as ``SO hi lo SI`` through the same charsets.
* JIS X 0208 (base of JEF / KEIS / JIPS): every code 0xA1A1-0xFEFE through ``EUC-JP``.
* Encoder: every Unicode scalar value U+0000-U+10FFFF (and every multi-code-point sequence some
  code decodes to) encoded through the same charset, to learn which code iconv's encoder picks.

Items go through iconv in batches (``iconv -c``, a separator after every item, the output split
on the separator). A batch that does not split into exactly one piece per item is bisected down to
single items, converted one by one without ``-c``. Every batch runs twice with two different
separators and the passes must agree (an item that disagrees is converted alone), so a code that
happens to decode to the separator cannot shift the alignment silently.

Rules applied to iconv's answers (each application is counted in the table header)
-----------------------------------------------------------------------------------
* Codes iconv decodes to U+001A (SUB) other than the code it encodes U+001A to are its substitute
  for *unassigned* codes (IBM1390/1399 do this for SBCS): left out, i.e. undefined.
* DBCS codes in the IBM user-defined area (lead bytes 0x69-0x7F; for 16684 also 0x80-0x89) that
  iconv maps to the Private Use Area are left out: 外字 come from the city's own table.
* Canonical code per plane (SBCS table, DBCS table): when several codes of one table decode to one
  character, the one iconv's encoder picks; when iconv's encoder picks none of them (or the other
  table), the only one, else the lowest (reported in the header).
* An encoder-only mapping of iconv (it encodes a character to a code that decodes to something
  else) is listed with flag 1 for the record; the runtime never encodes with it. Characters iconv
  encodes to the substitute byte 0x3F are only counted.

Output: one TSV per code-page part (``sbcs290``, ``sbcs1027``, ``dbcs300``, ``dbcs16684``,
``jisx0208``). Line format::

    code<TAB>U+XXXX[ U+YYYY]<TAB>flag<TAB>charsets

flag (omitted when 0) as in ICU ``.ucm`` files: 0 = round trip (the code this table encodes the
character to), 3 = decode only (the table encodes the character to another code), 1 = encode only
(iconv's encoder; not used by ``ikou.moji.codepages``). charsets (omitted when the line holds for
every charset in the header): the comma-separated iconv charsets the line applies to.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "include" / "ikou" / "moji" / "tables"

SO, SI = 0x0E, 0x0F
SUB_SBCS = 0x3F

# iconv charset -> (SBCS part, DBCS part, ICU converter)
IBM_CHARSETS = {
    "IBM930": ("sbcs290", "dbcs300", "ibm-930"),
    "IBM939": ("sbcs1027", "dbcs300", "ibm-939"),
    "IBM1390": ("sbcs290", "dbcs16684", "ibm-1390"),
    "IBM1399": ("sbcs1027", "dbcs16684", "ibm-1399"),
}
# Western EBCDIC single-byte code pages (iconv charset -> table part, ICU converter)
WESTERN_CHARSETS = {
    f"IBM{n:03d}": (f"sbcs{n:03d}", f"ibm-{n}")
    for n in (37, 273, 277, 278, 280, 284, 285, 297, 500, 871, 1047, *range(1140, 1150))
}
# open-system multi-byte code pages: iconv charset -> table part
OPEN_CHARSETS = {"CP932": "cp932", "EUC-JP-MS": "eucjpms"}
# DBCS user-defined area (lead bytes) per DBCS part; glibc and ICU both map it to the PUA
UDA_LEADS = {"dbcs300": range(0x69, 0x80), "dbcs16684": range(0x69, 0x8A)}

PART_TITLES = {
    "sbcs290": "SBCS code page 290 (EBCDIK, half-width katakana), SBCS part of CCSID 930 / 1390",
    "sbcs1027": "SBCS code page 1027 (Latin with lower case), SBCS part of CCSID 939 / 1399",
    "dbcs300": "DBCS code page 300 (IBM host DBCS), DBCS part of CCSID 930 / 939",
    "dbcs16684": "DBCS CCSID 16684 (300 + JIS X 0213 additions), DBCS part of CCSID 1390 / 1399",
    "jisx0208": "JIS X 0208 in EUC-JP byte form (0xA1A1-0xFEFE), DBCS base of JEF / KEIS / JIPS",
    "cp932": "Microsoft code page 932 (Shift_JIS with NEC / IBM extensions), open-system files",
    "eucjpms": "eucJP-ms (EUC-JP with JIS X 0212 via 0x8F and the PUA rows), open-system files",
    **{
        part: f"Western EBCDIC single-byte code page {part[4:].lstrip('0')}"
        for part, _ in WESTERN_CHARSETS.values()
    },
}

WESTERN_PARTS = {part for part, _ in WESTERN_CHARSETS.values()}

Cps = tuple[int, ...]


# ------------------------------------------------------------------------------------ converters


def iconv_version() -> str:
    out = subprocess.run(["iconv", "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def _run(tool: str, src: str, dst: str, data: bytes, skip: bool) -> tuple[bytes, int]:
    if tool == "iconv":
        args = ["iconv", *(["-c"] if skip else []), "-f", src, "-t", dst]
    else:  # ICU
        cb = "skip" if skip else "stop"
        args = ["uconv", "--from-callback", cb, "--to-callback", cb, "-f", src, "-t", dst]
    p = subprocess.run(args, input=data, capture_output=True)
    return p.stdout, p.returncode


def _utf32(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw) - len(raw) % 4, 4)]


class Stats:
    batches = 0
    singles = 0


def _bisect(items: list, convert_batch, convert_one) -> list:
    """convert_batch over items; a batch that does not split cleanly is halved, down to singles."""
    out: list = [None] * len(items)
    stack = [(0, len(items))]
    while stack:
        lo, hi = stack.pop()
        if hi - lo == 1:
            Stats.singles += 1
            out[lo] = convert_one(items[lo])
            continue
        Stats.batches += 1
        res = convert_batch(items[lo:hi])
        if res is not None and len(res) == hi - lo:
            out[lo:hi] = res
        else:
            mid = (lo + hi) // 2
            stack += [(lo, mid), (mid, hi)]
    return out


def _two_passes(items: list, seps: tuple, make_batch, one, batch: int) -> list:
    passes = []
    for sep in seps:
        run = make_batch(sep)
        res: list = []
        for i in range(0, len(items), batch):
            res += _bisect(items[i : i + batch], run, one)
        passes.append(res)
    a, b = passes
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            a[i] = one(items[i])
    return a


def decode_items(charset: str, items: list[bytes], tool: str = "iconv") -> list[Cps | None]:
    """Decode each byte string; None where the converter rejects it or yields nothing."""

    def one(item: bytes) -> Cps | None:
        raw, rc = _run(tool, charset, "UTF-32BE", item, skip=False)
        cps = tuple(_utf32(raw))
        return cps if rc == 0 and cps else None

    def make_batch(sep: bytes):
        (sep_cp,) = _utf32(_run(tool, charset, "UTF-32BE", sep, skip=False)[0])

        def run(chunk: list[bytes]):
            data = b"".join(it + sep for it in chunk)
            raw, _ = _run(tool, charset, "UTF-32BE", data, skip=True)
            pieces: list[list[int]] = [[]]
            for cp in _utf32(raw):
                if cp == sep_cp:
                    pieces.append([])
                else:
                    pieces[-1].append(cp)
            if pieces[-1]:
                return None
            pieces.pop()
            return [tuple(p) or None for p in pieces]

        return run

    ascii_based = charset.upper().startswith("EUC") or charset.upper() == "CP932"
    seps = (b"\n", b" ") if ascii_based else (b"\x25", b"\x40")
    return _two_passes(items, seps, make_batch, one, 8192)


def _sjis_width(b: int) -> int:
    return 2 if 0x81 <= b <= 0x9F or 0xE0 <= b <= 0xFC else 1


def _euc_width(b: int) -> int:
    return 1 if b < 0x80 else 3 if b == 0x8F else 2


def encode_items(charset: str, items: list[str]) -> list[bytes | None]:
    """Encode each string through iconv; None where iconv cannot encode it."""
    up = charset.upper()
    ebcdic = not (up.startswith("EUC") or up == "CP932")
    width = _sjis_width if up == "CP932" else _euc_width

    def one(item: str) -> bytes | None:
        raw, rc = _run("iconv", "UTF-8", charset, item.encode("utf-8"), skip=False)
        return raw if rc == 0 and raw else None

    def split(raw: bytes, sep: int) -> list[bytes | None] | None:
        res: list[bytes | None] = []
        pos, n = 0, len(raw)
        while pos < n:
            b = raw[pos]
            if b == sep:
                res.append(None)
                pos += 1
                continue
            start = pos
            if ebcdic and b == SO:
                pos += 1
                while pos < n and raw[pos] != SI:
                    pos += 2
                if pos >= n:
                    return None
                pos += 1
            elif ebcdic:
                pos += 1
            else:  # EUC-JP: ASCII, SS2 + 1, SS3 + 2, or two GR bytes; CP932: lead + trail
                pos += width(b)
            if pos >= n or raw[pos] != sep:
                return None
            res.append(raw[start:pos])
            pos += 1
        return res

    def make_batch(sep_char: str):
        sep = _run("iconv", "UTF-8", charset, sep_char.encode(), skip=False)[0]
        assert len(sep) == 1, (charset, sep_char, sep)

        def run(chunk: list[str]):
            data = "".join(it + sep_char for it in chunk).encode("utf-8")
            return split(_run("iconv", "UTF-8", charset, data, skip=True)[0], sep[0])

        return run

    return _two_passes(items, ("\n", " "), make_batch, one, 65536)


def all_scalar_values() -> list[str]:
    return [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def _text(cps: Cps) -> str:
    return "".join(map(chr, cps))


def _u(cps: Cps) -> str:
    return " ".join(f"U+{c:04X}" for c in cps)


# ---------------------------------------------------------------------------------------- tables


@dataclass
class Plane:
    """What one charset says about one table (SBCS or DBCS)."""

    part: str
    width: int
    decode: dict[int, Cps] = field(default_factory=dict)
    flags: dict[int, int] = field(default_factory=dict)
    encode_only: dict[Cps, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> set[tuple[int, Cps, int]]:
        out = {(c, cps, self.flags[c]) for c, cps in self.decode.items()}
        return out | {(c, cps, 1) for cps, c in self.encode_only.items()}


def _code_in(encoded: bytes | None, width: int, ebcdic: bool = True) -> int | None:
    """The code of an encoder result if it is one code of this plane, else None."""
    if encoded is None:
        return None
    if width == 1:
        return encoded[0] if len(encoded) == 1 else None
    if ebcdic:
        if len(encoded) == 4 and encoded[0] == SO and encoded[3] == SI:
            return int.from_bytes(encoded[1:3], "big")
        return None
    if width == 3:  # open-system multi-byte: any code of one character
        return int.from_bytes(encoded, "big") if encoded else None
    return int.from_bytes(encoded, "big") if len(encoded) == 2 and encoded[0] >= 0xA1 else None


def finish_plane(plane: Plane, enc: dict[str, bytes | None], ebcdic: bool = True) -> None:
    """Choose canonical codes, set flags and collect encoder-only mappings (not into the UDA)."""
    by_char: dict[Cps, list[int]] = {}
    for code, cps in sorted(plane.decode.items()):
        by_char.setdefault(cps, []).append(code)
    for cps, codes in by_char.items():
        picked = _code_in(enc.get(_text(cps)), plane.width, ebcdic)
        if picked in codes:
            canon = picked
        else:
            canon = codes[0]
            if len(codes) > 1:
                plane.notes.append(
                    f"{_u(cps)} decodes from {', '.join(f'{c:X}' for c in codes)}; iconv's"
                    f" encoder picks none of them; the table keeps {canon:X}"
                )
        for code in codes:
            plane.flags[code] = 0 if code == canon else 3
    subst = 0
    uda = UDA_LEADS.get(plane.part, range(0))
    for s, got in enc.items():
        code = _code_in(got, plane.width, ebcdic)
        if code is None or len(s) != 1 or plane.decode.get(code) == (ord(s),):
            continue
        if plane.width == 2 and (code >> 8) in uda:
            continue  # iconv's PUA <-> user-defined-area mapping, left out on purpose
        if plane.width == 1 and code == SUB_SBCS:
            subst += 1
            continue
        plane.encode_only[(ord(s),)] = code
    if subst:
        plane.notes.append(
            f"iconv's encoder substitutes 0x3F (SUB) for {subst} characters it"
            " cannot encode (not listed)"
        )


def build_ibm(charset: str, scalars: list[str]) -> tuple[Plane, Plane]:
    sbcs_part, dbcs_part, _ = IBM_CHARSETS[charset]
    print(f"{charset}: decoding SBCS 0x00-0xFF, DBCS 0x4040-0xFEFE ...", file=sys.stderr)
    sb = decode_items(charset, [bytes([b, SI]) for b in range(256)])  # SI: leave SO's state
    codes = list(range(0x4040, 0xFEFF))
    db = decode_items(charset, [bytes([SO, c >> 8, c & 0xFF, SI]) for c in codes])
    sbcs = Plane(sbcs_part, 1, {b: cps for b, cps in enumerate(sb) if cps is not None})
    dbcs = Plane(dbcs_part, 2, {c: cps for c, cps in zip(codes, db) if cps is not None})

    print(f"{charset}: encoding U+0000-U+10FFFF ...", file=sys.stderr)
    multi = sorted({_text(c) for c in [*sbcs.decode.values(), *dbcs.decode.values()] if len(c) > 1})
    items = scalars + multi
    enc = dict(zip(items, encode_items(charset, items)))

    sub_code = _code_in(enc["\x1a"], 1)
    for plane in (sbcs, dbcs):
        subs = [c for c, cps in plane.decode.items() if cps == (0x1A,) and c != sub_code]
        for c in subs:
            del plane.decode[c]
        if subs:
            plane.notes.append(
                f"{len(subs)} codes that iconv decodes to U+001A (its substitute for"
                " unassigned codes) are left undefined"
            )
    uda = [c for c, cps in dbcs.decode.items() if (c >> 8) in UDA_LEADS[dbcs_part]]
    pua = [c for c in uda if len(dbcs.decode[c]) == 1 and 0xE000 <= dbcs.decode[c][0] <= 0xF8FF]
    if len(pua) != len(uda):
        raise SystemExit(
            f"{charset}: non-PUA mappings in the user-defined area: "
            f"{[hex(c) for c in uda if c not in pua][:10]}"
        )
    lo_pua, hi_pua = (f(dbcs.decode[c][0] for c in pua) for f in (min, max))
    for c in pua:
        del dbcs.decode[c]
    dbcs.notes.append(
        f"{len(pua)} user-defined-area codes {min(pua):X}-{max(pua):X}, mapped by"
        f" iconv to the PUA U+{lo_pua:04X}-U+{hi_pua:04X}, are left out (外字 come"
        " from the city's table)"
    )
    stray_pua = [c for c, cps in dbcs.decode.items() if any(0xE000 <= x <= 0xF8FF for x in cps)]
    if stray_pua:
        raise SystemExit(f"{charset}: PUA mappings outside the user-defined area: {stray_pua[:10]}")
    for plane in (sbcs, dbcs):
        finish_plane(plane, enc)
    return sbcs, dbcs


def build_western(charset: str, scalars: list[str]) -> Plane:
    """A Western EBCDIC single-byte code page: every byte decoded, every scalar value encoded."""
    part, icu = WESTERN_CHARSETS[charset]
    print(f"{charset}: decoding 0x00-0xFF, encoding U+0000-U+10FFFF ...", file=sys.stderr)
    # decoded by ICU: glibc's IBM278 / IBM285 / IBM871 differ from ICU, the JDK and glibc's own
    # euro variants (IBM1143 / 1146 / 1149) on a few bytes (278: 0x71 / 0xE0; 285: 0xA1;
    # 871: 0x4A / 0xC0); everywhere else ICU and glibc decode the same
    dec = decode_items(icu, [bytes([b]) for b in range(256)], tool="icu")
    glibc = decode_items(charset, [bytes([b]) for b in range(256)])
    plane = Plane(part, 1, {b: cps for b, cps in enumerate(dec) if cps is not None})
    differ = [b for b in range(256) if dec[b] != glibc[b]]
    plane.notes.append(
        f"decoded by ICU uconv {icu}"
        + (
            f"; glibc iconv {charset} differs at {', '.join(f'{b:02X}' for b in differ)}"
            if differ
            else "; glibc iconv decodes every byte the same"
        )
    )
    enc = dict(zip(scalars, encode_items(charset, scalars)))
    finish_plane(plane, enc)
    return plane


def open_codes(charset: str) -> list[bytes]:
    """Every code probed in an open-system multi-byte charset (single bytes first)."""
    singles = [bytes([b]) for b in range(256)]
    if charset == "CP932":
        leads = [*range(0x81, 0xA0), *range(0xE0, 0xFD)]
        trails = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
        return singles + [bytes([h, t]) for h in leads for t in trails]
    gr = range(0xA1, 0xFF)
    return (
        singles
        + [bytes([0x8E, t]) for t in range(0xA1, 0xE0)]
        + [bytes([h, t]) for h in gr for t in gr]
        + [bytes([0x8F, h, t]) for h in gr for t in gr]
    )


def build_open(charset: str, scalars: list[str]) -> Plane:
    """CP932 / eucJP-ms: every single byte and every multi-byte code of the charset's layout.

    Codes are the bytes read big-endian (0x8160, 0x8FA1A1); a single byte that is a lead byte
    decodes to nothing alone and is left out. The PUA rows are kept as iconv maps them (cp932's
    user-defined area F040-F9FC is routed through the 外字 table by ikou.moji.opensystem).
    """
    part = OPEN_CHARSETS[charset]
    print(f"{charset}: decoding every code, encoding U+0000-U+10FFFF ...", file=sys.stderr)
    items = open_codes(charset)
    dec = decode_items(charset, items)
    got = {c: cps for c, cps in zip(items, dec) if cps is not None}
    # iconv -c skips an invalid lead byte and decodes what follows it (0x84BF -> the half-width
    # katakana 0xBF; 0x8F + an unassigned JIS X 0212 code -> the JIS X 0208 character of its
    # last two bytes): a multi-byte code that decodes like its own tail is not a character
    ghosts = [c for c, cps in got.items() if len(c) > 1 and got.get(c[1:]) == cps]
    for c in ghosts:
        del got[c]
    plane = Plane(part, 3, {int.from_bytes(c, "big"): cps for c, cps in got.items()})
    plane.notes.append(
        f"{len(ghosts)} codes iconv -c decodes like their own tail (a skipped invalid lead byte)"
        " are left undefined"
    )
    enc = dict(zip(scalars, encode_items(charset, scalars)))
    finish_plane(plane, enc, ebcdic=False)
    return plane


def build_jis(scalars: list[str]) -> Plane:
    print("EUC-JP: decoding 0xA1A1-0xFEFE, encoding U+0000-U+10FFFF ...", file=sys.stderr)
    codes = [(h << 8) | lo for h in range(0xA1, 0xFF) for lo in range(0xA1, 0xFF)]
    dec = decode_items("EUC-JP", [c.to_bytes(2, "big") for c in codes])
    plane = Plane("jisx0208", 2, {c: cps for c, cps in zip(codes, dec) if cps is not None})
    enc = dict(zip(scalars, encode_items("EUC-JP", scalars)))
    finish_plane(plane, enc, ebcdic=False)
    return plane


# ---------------------------------------------------------------------------------------- output


def render(part: str, planes: dict[str, Plane], version: str) -> str:
    """Merge the planes of several charsets into one table text."""
    charsets = list(planes)
    rows: dict[tuple[int, Cps, int], list[str]] = {}
    for cs, plane in planes.items():
        for row in plane.rows():
            rows.setdefault(row, []).append(cs)
    width = next(iter(planes.values())).width
    fmt = "{:02X}" if width == 1 else "{:04X}"
    if width == 3:
        fmt = "{:02X}"  # codes of 1-3 bytes, written with an even number of digits
    lines = []
    order = sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
    for (code, cps, flag), css in order:
        hexcode = fmt.format(code)
        if len(hexcode) % 2:
            hexcode = "0" + hexcode
        line = f"{hexcode}\t{_u(cps)}"
        if len(css) != len(charsets):
            line += f"\t{flag}\t{','.join(css)}"
        elif flag:
            line += f"\t{flag}"
        lines.append(line)
    probe = (
        "every single byte and every multi-byte code of the charset's byte layout"
        if width == 3
        else "every byte 0x00-0xFF decoded alone"
        if part in WESTERN_PARTS
        else {
            1: "every byte 0x00-0xFF decoded alone (followed by SI)",
            2: "every code 0x4040-0xFEFE decoded as SO hi lo SI",
        }[width]
        if part != "jisx0208"
        else "every code 0xA1A1-0xFEFE decoded (two bytes)"
    )
    head = [
        f"# ikou code-page table {part}: {PART_TITLES[part]}",
        f"# source: {version}, charset(s) {', '.join(charsets)}",
        f"# probe: {probe};",
        "#        encoder: every scalar value U+0000-U+10FFFF encoded",
        "# generated by scripts/gen_codepage_tables.py -- do not edit; rerun the script",
        "# columns: code, unicode, flag (omitted = 0), charsets (omitted = all of the above)",
        "# flag: 0 round trip; 3 decode only (the table encodes the character to another code);",
        "#       1 encode only: iconv's encoder maps the character here, the code decodes to",
        "#       something else; for the record, never used for encoding by ikou.moji.codepages",
    ]
    for cs, plane in planes.items():
        n = [sum(1 for f in plane.flags.values() if f == k) for k in (0, 3)]
        head.append(
            f"# {cs}: {n[0]} round trip, {n[1]} decode only, {len(plane.encode_only)} encode only"
        )
        head += [f"#   note: {note}" for note in plane.notes]
    return "\n".join(head + lines) + "\n"


def collect(only: set[str] = frozenset()) -> tuple[dict[str, str], dict[str, dict[str, Plane]]]:
    version = iconv_version()
    scalars = all_scalar_values()
    parts: dict[str, dict[str, Plane]] = {}

    def wanted(*names: str) -> bool:
        return not only or bool(only & set(names))

    for charset, (sb, db, _icu) in IBM_CHARSETS.items():
        if wanted(sb, db):
            for plane in build_ibm(charset, scalars):
                parts.setdefault(plane.part, {})[charset] = plane
    if wanted("jisx0208"):
        parts["jisx0208"] = {"EUC-JP": build_jis(scalars)}
    for charset, (part, _icu) in WESTERN_CHARSETS.items():
        if wanted(part):
            parts[part] = {charset: build_western(charset, scalars)}
    for charset, part in OPEN_CHARSETS.items():
        if wanted(part):
            parts[part] = {charset: build_open(charset, scalars)}
    print(f"iconv runs: {Stats.batches} batches, {Stats.singles} single items", file=sys.stderr)
    return {f"{p}.tsv": render(p, planes, version) for p, planes in parts.items()}, parts


def icu_report(parts: dict[str, dict[str, Plane]]) -> int:
    """Print every code whose ICU decoding differs from the table (uconv, batched)."""
    total = 0
    for charset, (sbcs_part, dbcs_part, icu) in IBM_CHARSETS.items():
        for part in (sbcs_part, dbcs_part):
            plane = parts[part][charset]
            if plane.width == 1:
                codes = list(range(256))
                items = [bytes([c, SI]) for c in codes]
            else:
                codes = list(range(0x4040, 0xFEFF))
                items = [bytes([SO, c >> 8, c & 0xFF, SI]) for c in codes]
            got = dict(zip(codes, decode_items(icu, items, tool="icu")))
            diffs = []
            for code in codes:
                mine, theirs = plane.decode.get(code), got[code]
                if mine == theirs:
                    continue
                in_uda = plane.width == 2 and (code >> 8) in UDA_LEADS[part]
                if in_uda and theirs and 0xE000 <= theirs[0] <= 0xF8FF:
                    continue  # user-defined area, left out on purpose
                if theirs == (0x1A,) and mine is None:
                    continue
                diffs.append(
                    f"{code:0{2 * plane.width}X}: iconv {_u(mine) if mine else '-'}"
                    f"  icu {_u(theirs) if theirs else '-'}"
                )
            total += len(diffs)
            print(f"{charset} {part} vs ICU {icu}: {len(diffs)} differences")
            for d in diffs:
                print("    " + d)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a table would change"
    )
    ap.add_argument(
        "--icu", action="store_true", help="print where ICU's uconv decodes differently"
    )
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default: %(default)s)")
    ap.add_argument(
        "--only", nargs="*", metavar="PART", help="write only these tables (e.g. cp932 eucjpms)"
    )
    args = ap.parse_args(argv)
    files, parts = collect(set(args.only or ()))
    if args.icu:
        icu_report(parts)
    changed = False
    for name, text in sorted(files.items()):
        path = args.out / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old == text:
            continue
        changed = True
        if args.check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), str(path), "regenerated", n=0
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {name} ({len(text.encode()):,} bytes)", file=sys.stderr)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
