"""Copybook source -> tokens (fixed / free format, literals and their continuation)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ikou.mainframe.copybook.model import CopybookError

# ------------------------------------------------------------------------------------ tokens


@dataclass(slots=True)
class Tok:
    kind: str  # "word" | "lit" | "period"
    text: str  # word text (upper case) or literal value
    line: int
    col: int
    lit_kind: str = ""  # "alnum" | "hex" | "national" for literals
    raw: str = ""  # word as written (pictures keep their case-insensitive form upper-cased)


_LIT_PREFIX = re.compile(r"(?i)(X|N|G|NX|Z)(['\"])")


FORMATS = ("auto", "fixed", "free")

# a line that is free-format code: a level number within columns 1-6
_FREE_LINE = re.compile(r"^\s{0,5}\d{1,2}(\s|$)")


def detect_format(text: str) -> str:
    """``fixed`` (columns 1-6 a sequence area; code may also start in column 7) or ``free``
    (some line has a level number within columns 1-6). Lines starting with ``*`` in column 1
    are comments either way."""
    for line in text.splitlines():
        if not line.strip() or line.startswith("*"):
            continue
        head = line[:6]
        sequence_like = not head.strip() or (len(head) == 6 and head.isdigit())
        if len(line) > 6 and line[6] in "*/":
            continue  # a comment line in fixed format, whatever columns 1-6 hold
        if sequence_like and (len(line) <= 6 or line[6] in " -dD"):
            continue
        if _FREE_LINE.match(line):
            return "free"
    return "fixed"


def tokenize(text: str, source: str, fmt: str) -> list[Tok]:
    """Tokens of copybook text; ``fmt`` is fixed, free or auto (see :func:`detect_format`)."""
    lenient = fmt == "auto"
    if lenient:
        fmt = detect_format(text)
    toks: list[Tok] = []
    open_lit: dict | None = None  # {"quote", "buf", "line", "col", "kind"}
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip("\r\n")
        if fmt == "fixed":
            if len(line) < 7:
                if line[:6].strip() == "" or len(line) <= 6:
                    if open_lit is None:
                        continue
                    # a blank line inside an open literal: the literal must continue
                    continue
            indicator = line[6] if len(line) > 6 else " "
            if lenient and line.startswith("*") and open_lit is None:
                continue  # a comment from column 1 (auto format)
            if indicator in "*/" or (indicator in "dD" and (not lenient or line[7:8] in " ")):
                continue
            if indicator not in " -" and lenient and open_lit is None:
                # auto format: code that starts in column 7 (no indicator column)
                area = line[6:72]
                base = 7
                continuation = False
            elif indicator not in " -":
                raise CopybookError(
                    f"invalid indicator {indicator!r} in column 7", source, lineno, 7
                )
            else:
                area = line[7:72]
                base = 8
                continuation = indicator == "-"
        else:
            stripped = line.lstrip()
            if (
                line.startswith("*")
                or stripped.startswith("*>")
                or (lenient and stripped[:1] == "*" and stripped[1:2] in ("", " ", "*"))
            ):
                continue
            area = line
            base = 1
            continuation = False
        i = 0
        n = len(area)
        if open_lit is not None:
            if not continuation:
                raise CopybookError(
                    "literal not closed (a continued literal needs '-' in column 7 on the next line)",
                    source,
                    open_lit["line"],
                    open_lit["col"],
                )
            while i < n and area[i] in " \t":
                i += 1
            if i >= n or area[i] != open_lit["quote"]:
                raise CopybookError(
                    "continuation line must start with a quote", source, lineno, base + i
                )
            i += 1
            i = _scan_literal(area, i, open_lit, toks, lineno, base, fmt)
            if open_lit.get("closed"):
                open_lit = None
        elif continuation:
            # continuation of a word: the first non-blank characters join the previous word
            while i < n and area[i] in " \t":
                i += 1
            j = i
            while j < n and area[j] not in " \t":
                j += 1
            piece = area[i:j]
            if toks and toks[-1].kind == "word" and piece:
                end_period = piece.endswith(".") and (j >= n or area[j] in " \t")
                if end_period:
                    piece = piece[:-1]
                toks[-1].text += piece.upper()
                toks[-1].raw += piece
                if end_period:
                    toks.append(Tok("period", ".", lineno, base + j - 1))
                i = j
        while i < n:
            c = area[i]
            if c in " \t":
                i += 1
                continue
            if c == "*" and i + 1 < n and area[i + 1] == ">":
                break
            if c in ",;" and (i + 1 >= n or area[i + 1] in " \t"):
                i += 1
                continue
            if c == "." and (i + 1 >= n or area[i + 1] in " \t"):
                toks.append(Tok("period", ".", lineno, base + i))
                i += 1
                continue
            m = _LIT_PREFIX.match(area, i)
            if c in "'\"" or m:
                kind = "alnum"
                start = i
                if m:
                    p = m.group(1).upper()
                    kind = "hex" if p == "X" else ("national" if p in ("N", "G", "NX") else "alnum")
                    i = m.end(1)
                quote = area[i]
                lit = {"quote": quote, "buf": [], "line": lineno, "col": base + start, "kind": kind}
                i = _scan_literal(area, i + 1, lit, toks, lineno, base, fmt)
                if not lit.get("closed"):
                    open_lit = lit
                continue
            j = i
            while j < n and area[j] not in " \t":
                if area[j] in "'\"" and j > i:
                    break
                j += 1
            word = area[i:j]
            if word.endswith(".") and (j >= n or area[j] in " \t"):
                if len(word) > 1:
                    toks.append(Tok("word", word[:-1].upper(), lineno, base + i, raw=word[:-1]))
                toks.append(Tok("period", ".", lineno, base + j - 1))
            else:
                toks.append(Tok("word", word.upper(), lineno, base + i, raw=word))
            i = j
    if open_lit is not None:
        raise CopybookError("literal not closed", source, open_lit["line"], open_lit["col"])
    return toks


def _scan_literal(
    area: str, i: int, lit: dict, toks: list[Tok], lineno: int, base: int, fmt: str
) -> int:
    """Scan literal characters from ``area[i]``; appends the token when the literal closes."""
    n = len(area)
    q = lit["quote"]
    buf = lit["buf"]
    while i < n:
        c = area[i]
        if c == q:
            if i + 1 < n and area[i + 1] == q:
                buf.append(q)
                i += 2
                continue
            lit["closed"] = True
            value = "".join(buf)
            toks.append(Tok("lit", value, lit["line"], lit["col"], lit_kind=lit["kind"], raw=value))
            return i + 1
        buf.append(c)
        i += 1
    # the literal runs to the end of the area (column 72 in fixed format): pad to it
    if fmt == "fixed":
        buf.append(" " * (65 - n))
    return i
