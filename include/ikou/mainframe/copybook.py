"""COBOL copybook parser: record layouts from data division entries (stdlib only).

A layer of its own (as in Cobrix): it knows nothing about files, code pages or Arrow.

    cb = parse_copybook(text, source="juki.cpy")
    layout = cb.record("JUKI-REC")          # an 01 record, or a group chosen by REDEFINES
    for f in layout.fields:                 # elementary fields, absolute offsets
        print(f.column, f.offset, f.size, f.kind, f.digits, f.scale)

Supported: levels 01-49, 66 RENAMES, 77, 88 condition names (kept as code lists in
``field.conditions``), PIC X / A / 9 / N / G with S, V, P and repeat counts, numeric-edited
pictures (read as text), USAGE DISPLAY / DISPLAY-1 / NATIONAL (read as host DBCS) / COMP /
COMPUTATIONAL / BINARY / COMP-4 / COMP-5 / COMP-3 / PACKED-DECIMAL / COMP-1 / COMP-2 / INDEX /
POINTER, SIGN LEADING / TRAILING [SEPARATE [CHARACTER]], OCCURS n [TIMES], OCCURS m TO n
[TIMES] DEPENDING ON x (also followed by further fields: their offsets move with the count),
REDEFINES, FILLER, VALUE, JUSTIFIED / BLANK WHEN ZERO / SYNC / GLOBAL / EXTERNAL (accepted,
no effect on the layout: SYNC slack bytes are not inserted), several 01 records sharing one
record area (as in an FD).

Source format: fixed (default): columns 1-6 sequence area (ignored), column 7 indicator
(``*`` / ``/`` comment, ``D`` debugging line = comment, ``-`` continuation), columns 8-72 the
entry, 73-80 ignored; ``*>`` starts an inline comment. ``format="free"``: the whole line is code,
``*`` in column 1 or ``*>`` start comments. Names are case-insensitive and kept upper case.

Errors raise :class:`CopybookError` (a ``ValueError``) naming source, line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Iterator

__all__ = [
    "CopybookError",
    "Copybook",
    "Item",
    "Field",
    "Dim",
    "RecordLayout",
    "Renames",
    "parse_copybook",
    "KINDS",
]

KINDS = ("alphanumeric", "zoned", "packed", "binary", "float", "dbcs", "mixed")


class CopybookError(ValueError):
    """A copybook that cannot be parsed; the message names source, line and column."""

    def __init__(self, message: str, source: str = "<copybook>", line: int = 0, column: int = 0):
        self.reason = message
        self.source = source
        self.line = line
        self.column = column
        where = f"{source}:{line}:{column}" if line else source
        super().__init__(f"{where}: {message}")


# ------------------------------------------------------------------------------------ tokens


@dataclass(slots=True)
class _Tok:
    kind: str  # "word" | "lit" | "period"
    text: str  # word text (upper case) or literal value
    line: int
    col: int
    lit_kind: str = ""  # "alnum" | "hex" | "national" for literals
    raw: str = ""  # word as written (pictures keep their case-insensitive form upper-cased)


_LIT_PREFIX = re.compile(r"(?i)(X|N|G|NX|Z)(['\"])")


def _tokenize(text: str, source: str, fmt: str) -> list[_Tok]:
    toks: list[_Tok] = []
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
            if indicator in "*/dD":
                continue
            if indicator not in " -":
                raise CopybookError(
                    f"invalid indicator {indicator!r} in column 7", source, lineno, 7
                )
            area = line[7:72]
            base = 8
            continuation = indicator == "-"
        else:
            stripped = line.lstrip()
            if line.startswith("*") or stripped.startswith("*>"):
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
                    toks.append(_Tok("period", ".", lineno, base + j - 1))
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
                toks.append(_Tok("period", ".", lineno, base + i))
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
                    toks.append(_Tok("word", word[:-1].upper(), lineno, base + i, raw=word[:-1]))
                toks.append(_Tok("period", ".", lineno, base + j - 1))
            else:
                toks.append(_Tok("word", word.upper(), lineno, base + i, raw=word))
            i = j
    if open_lit is not None:
        raise CopybookError("literal not closed", source, open_lit["line"], open_lit["col"])
    return toks


def _scan_literal(
    area: str, i: int, lit: dict, toks: list[_Tok], lineno: int, base: int, fmt: str
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
            toks.append(
                _Tok("lit", value, lit["line"], lit["col"], lit_kind=lit["kind"], raw=value)
            )
            return i + 1
        buf.append(c)
        i += 1
    # the literal runs to the end of the area (column 72 in fixed format): pad to it
    if fmt == "fixed":
        buf.append(" " * (65 - n))
    return i


# ------------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class Dim:
    """One OCCURS dimension of a field: ``max`` elements ``stride`` bytes apart."""

    max: int
    min: int
    stride: int
    depends_on: str | None  # name of the count field for OCCURS ... DEPENDING ON
    owner: str  # the item that carries the OCCURS clause


@dataclass(frozen=True, slots=True)
class Field:
    """An elementary field of a record layout (offsets absolute from the record start).

    ``size`` is the byte size of one element; with OCCURS, element ``(i, j, ...)`` sits at
    ``offset + i*dims[0].stride + j*dims[1].stride ...``. ``shifts`` lists the indexes (into
    ``RecordLayout.odo``) of OCCURS DEPENDING ON tables that precede the field: its real offset
    moves by ``(count - max) * stride`` for each of them.
    """

    name: str
    path: tuple[str, ...]  # group names from the 01 record down to the parent
    offset: int
    size: int
    kind: str  # one of KINDS
    digits: int = 0
    scale: int = 0
    signed: bool = False
    sign_position: str | None = None  # "leading" | "trailing" (signed DISPLAY numerics)
    sign_separate: bool = False
    dims: tuple[Dim, ...] = ()
    redefines: str | None = None  # nearest REDEFINES on the field or an ancestor
    usage: str = "display"
    pic: str | None = None
    conditions: dict = field(default_factory=dict)
    value: object = None
    line: int = 0
    filler: bool = False
    column: str = ""  # output column name (unique within a layout)
    lenient: bool = False  # inside a REDEFINES alternative: decode errors give null, not quarantine
    shifts: tuple[int, ...] = ()
    edited: bool = False  # numeric-edited picture, read as text

    @property
    def occurs(self) -> int | None:
        """Total number of elements (product of the dimensions' maxima), None without OCCURS."""
        if not self.dims:
            return None
        t = 1
        for d in self.dims:
            t *= d.max
        return t

    @property
    def depends_on(self) -> str | None:
        for d in self.dims:
            if d.depends_on:
                return d.depends_on
        return None

    @property
    def is_text(self) -> bool:
        return self.kind in ("alphanumeric", "dbcs", "mixed")

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("zoned", "packed", "binary", "float")

    @property
    def qualified(self) -> str:
        return ".".join(self.path + (self.name,))


@dataclass(slots=True)
class Item:
    """A data description entry (group or elementary) as written in the copybook."""

    level: int
    name: str
    line: int
    column: int
    filler: bool = False
    parent: "Item | None" = None
    children: list["Item"] = field(default_factory=list)
    pic: str | None = None
    pic_col: int = 0
    pic_line: int = 0
    usage: str | None = None  # explicit usage (inherited from groups when None)
    usage_word: str = ""  # the usage as written, for messages
    sign: str | None = None  # "leading" | "trailing"
    sign_separate: bool | None = None
    occurs_max: int | None = None
    occurs_min: int | None = None
    depends_on: str | None = None
    redefines: str | None = None
    redefines_col: int = 0
    value: object = None
    conditions: dict = field(default_factory=dict)
    # computed
    offset: int = 0  # absolute, from the record start (first element)
    size: int = 0  # one element
    kind: str = ""
    digits: int = 0
    scale: int = 0
    signed: bool = False
    edited: bool = False
    eff_usage: str = "display"
    eff_sign: str | None = None
    eff_separate: bool = False

    @property
    def is_group(self) -> bool:
        return bool(self.children) or (self.pic is None and self.eff_usage not in _NO_PIC_USAGES)

    @property
    def total_size(self) -> int:
        return self.size * (self.occurs_max or 1)

    def walk(self) -> Iterator["Item"]:
        yield self
        for c in self.children:
            yield from c.walk()

    def ancestors(self) -> list["Item"]:
        out = []
        p = self.parent
        while p is not None:
            out.append(p)
            p = p.parent
        return out[::-1]

    def __repr__(self) -> str:  # keep reprs short (trees are recursive)
        return f"Item({self.level:02d} {self.name} off={self.offset} size={self.size})"


@dataclass(frozen=True, slots=True)
class Renames:
    """A level-66 RENAMES entry: an alternative name for a byte range of a record."""

    name: str
    first: str
    last: str
    offset: int
    size: int
    fields: tuple[str, ...]


_NO_PIC_USAGES = ("comp-1", "comp-2", "index", "pointer")

_USAGE_WORDS = {
    "DISPLAY": "display",
    "DISPLAY-1": "display-1",
    "NATIONAL": "national",
    "COMP": "binary",
    "COMPUTATIONAL": "binary",
    "COMP-4": "binary",
    "COMPUTATIONAL-4": "binary",
    "BINARY": "binary",
    "COMP-5": "comp-5",
    "COMPUTATIONAL-5": "comp-5",
    "COMP-3": "packed",
    "COMPUTATIONAL-3": "packed",
    "PACKED-DECIMAL": "packed",
    "COMP-1": "comp-1",
    "COMPUTATIONAL-1": "comp-1",
    "COMP-2": "comp-2",
    "COMPUTATIONAL-2": "comp-2",
    "INDEX": "index",
    "POINTER": "pointer",
}
_UNSUPPORTED_USAGES = {
    "COMP-6",
    "COMPUTATIONAL-6",
    "PROCEDURE-POINTER",
    "FUNCTION-POINTER",
    "OBJECT",
    "UTF-8",
}

_CLAUSE_WORDS = (
    {
        "PIC",
        "PICTURE",
        "USAGE",
        "VALUE",
        "VALUES",
        "REDEFINES",
        "OCCURS",
        "SIGN",
        "LEADING",
        "TRAILING",
        "JUST",
        "JUSTIFIED",
        "BLANK",
        "SYNC",
        "SYNCHRONIZED",
        "RENAMES",
        "EXTERNAL",
        "GLOBAL",
        "IS",
        "TIMES",
        "DEPENDING",
        "INDEXED",
        "ASCENDING",
        "DESCENDING",
    }
    | set(_USAGE_WORDS)
    | _UNSUPPORTED_USAGES
)

_FIGURATIVE = {
    "ZERO": "zero",
    "ZEROS": "zero",
    "ZEROES": "zero",
    "SPACE": "space",
    "SPACES": "space",
    "HIGH-VALUE": "high",
    "HIGH-VALUES": "high",
    "LOW-VALUE": "low",
    "LOW-VALUES": "low",
    "QUOTE": "quote",
    "QUOTES": "quote",
    "NULL": "null",
    "NULLS": "null",
}

_NAME_RE = re.compile(r"^[^\s.'\"()]+$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


# ------------------------------------------------------------------------------------ parser


class _Parser:
    """Splits the token stream into entries (tokens up to each separator period)."""

    def __init__(self, toks: list[_Tok], source: str):
        self.toks = toks
        self.source = source
        self.i = 0

    def entries(self) -> Iterator[tuple[_Tok, list[_Tok]]]:
        """Yield (level token, remaining tokens up to the period)."""
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "word" and t.text in ("EJECT", "SKIP1", "SKIP2", "SKIP3"):
                self.i += 1
                continue
            start = self.i
            while self.i < len(self.toks) and self.toks[self.i].kind != "period":
                self.i += 1
            if self.i >= len(self.toks):
                last = self.toks[-1]
                raise CopybookError(
                    "entry not ended by a period",
                    self.source,
                    last.line,
                    last.col + len(last.raw or last.text),
                )
            body = self.toks[start : self.i]
            self.i += 1
            if not body:
                continue  # stray period
            yield body[0], body[1:]


def _entry(level_tok: _Tok, body: list[_Tok], source: str) -> tuple[Item, dict]:
    """Parse one data description entry. Returns the item and extra info (RENAMES, 88 values)."""

    def err(msg: str, tok: _Tok | None) -> CopybookError:
        tok = tok or level_tok
        return CopybookError(msg, source, tok.line, tok.col)

    if level_tok.kind != "word" or not level_tok.text.isdigit() or len(level_tok.text) > 2:
        raise err(f"expected a level number, found {_show(level_tok)}", level_tok)
    level = int(level_tok.text)
    if not (1 <= level <= 49 or level in (66, 77, 88)):
        raise err(f"invalid level number {level_tok.text}", level_tok)
    pos = 0
    name_tok = None
    if pos < len(body) and body[pos].kind == "word" and body[pos].text not in _CLAUSE_WORDS:
        name_tok = body[pos]
        pos += 1
    if name_tok is not None:
        name = name_tok.text
        if (
            not _NAME_RE.match(name)
            or name.replace("-", "").isdigit()
            or name.startswith("-")
            or name.endswith("-")
        ):
            raise err(f"invalid data name {name_tok.raw!r}", name_tok)
        item = Item(level, name, level_tok.line, level_tok.col, filler=(name == "FILLER"))
    else:
        if level in (66, 88):
            raise err(f"level {level:02d} entry needs a name", level_tok)
        item = Item(level, "FILLER", level_tok.line, level_tok.col, filler=True)
    extra: dict = {}

    def take(what: str) -> _Tok:
        nonlocal pos
        if pos >= len(body):
            last = body[-1] if body else (name_tok or level_tok)
            raise CopybookError(
                f"expected {what} after {_show(last)}",
                source,
                last.line,
                last.col + len(last.raw or last.text) + 1,
            )
        t = body[pos]
        pos += 1
        return t

    def opt(*words: str) -> bool:
        nonlocal pos
        if pos < len(body) and body[pos].kind == "word" and body[pos].text in words:
            pos += 1
            return True
        return False

    def integer(what: str) -> int:
        t = take(what)
        if t.kind != "word" or not t.text.isdigit():
            raise err(f"expected {what}, found {_show(t)}", t)
        return int(t.text)

    def literal(t: _Tok):
        if t.kind == "lit":
            if t.lit_kind == "hex":
                try:
                    return bytes.fromhex(t.text)
                except ValueError:
                    raise err(f"invalid hexadecimal literal X'{t.text}'", t) from None
            return t.text
        if t.text == "ALL":
            nt = take("a literal after ALL")
            return literal(nt)
        if t.text in _FIGURATIVE:
            return {
                "zero": 0,
                "space": " ",
                "high": b"\xff",
                "low": b"\x00",
                "quote": '"',
                "null": b"\x00",
            }[_FIGURATIVE[t.text]]
        if _NUM_RE.match(t.text):
            try:
                d = Decimal(t.text)
            except InvalidOperation:  # pragma: no cover - regex guards
                raise err(f"invalid number {t.text}", t) from None
            return int(d) if d == d.to_integral_value() and "." not in t.text else d
        raise err(f"expected a literal, found {_show(t)}", t)

    if level == 66:
        if not opt("RENAMES"):
            raise err("level 66 entry needs RENAMES", body[pos] if pos < len(body) else level_tok)
        first = take("a data name after RENAMES")
        last = first
        if opt("THRU", "THROUGH"):
            last = take("a data name after THRU")
        if pos < len(body):
            raise err(f"unexpected {_show(body[pos])} in RENAMES entry", body[pos])
        extra["renames"] = (first, last)
        return item, extra

    if level == 88:
        if not opt("VALUE", "VALUES"):
            raise err("level 88 entry needs VALUE", body[pos] if pos < len(body) else level_tok)
        opt("IS", "ARE")
        values: list = []
        while pos < len(body):
            t = take("a literal")
            if t.kind == "word" and t.text in ("WHEN", "FALSE"):
                # WHEN SET TO FALSE IS literal: not a code of the list
                opt("SET")
                opt("TO")
                opt("FALSE")
                opt("IS")
                take("a literal")
                continue
            v = literal(t)
            if opt("THRU", "THROUGH"):
                hi = literal(take("a literal after THRU"))
                values.append((v, hi))
            else:
                values.append(v)
        if not values:
            raise err("level 88 entry needs at least one value", level_tok)
        extra["values"] = values
        return item, extra

    while pos < len(body):
        t = take("a clause")
        w = t.text if t.kind == "word" else None
        if w == "REDEFINES":
            r = take("a data name after REDEFINES")
            if r.kind != "word":
                raise err(f"expected a data name after REDEFINES, found {_show(r)}", r)
            item.redefines = r.text
            item.redefines_col = r.col
        elif w in ("PIC", "PICTURE"):
            opt("IS")
            p = take("a picture string")
            if p.kind != "word":
                raise err(f"expected a picture string, found {_show(p)}", p)
            if item.pic is not None:
                raise err("duplicate PICTURE clause", t)
            item.pic = p.text
            item.pic_col = p.col
            item.pic_line = p.line
        elif w == "USAGE":
            opt("IS")
            u = take("a usage")
            _set_usage(item, u, err)
        elif w in _USAGE_WORDS or w in _UNSUPPORTED_USAGES:
            _set_usage(item, t, err)
        elif w in ("SIGN", "LEADING", "TRAILING"):
            if w == "SIGN":
                opt("IS")
                s = take("LEADING or TRAILING")
                w = s.text if s.kind == "word" else ""
                if w not in ("LEADING", "TRAILING"):
                    raise err(f"expected LEADING or TRAILING, found {_show(s)}", s)
            item.sign = w.lower()
            item.sign_separate = False
            if opt("SEPARATE"):
                opt("CHARACTER")
                item.sign_separate = True
        elif w == "OCCURS":
            n1 = integer("an OCCURS count")
            if opt("TO"):
                n2 = integer("the maximum OCCURS count")
                item.occurs_min, item.occurs_max = n1, n2
                if n2 < n1:
                    raise err(f"OCCURS {n1} TO {n2}: maximum below minimum", t)
            else:
                item.occurs_min = item.occurs_max = n1
            opt("TIMES")
            if opt("DEPENDING"):
                opt("ON")
                d = take("a data name after DEPENDING ON")
                if d.kind != "word":
                    raise err(f"expected a data name after DEPENDING ON, found {_show(d)}", d)
                item.depends_on = d.text
            if item.occurs_max is not None and item.occurs_max < 1:
                raise err("OCCURS count must be at least 1", t)
            if item.depends_on is None and item.occurs_min != item.occurs_max:
                raise err("OCCURS m TO n needs DEPENDING ON", t)
            while (
                pos < len(body)
                and body[pos].kind == "word"
                and body[pos].text in ("ASCENDING", "DESCENDING", "INDEXED")
            ):
                kw = take("KEY").text
                if kw == "INDEXED":
                    opt("BY")
                else:
                    opt("KEY")
                    opt("IS")
                while (
                    pos < len(body)
                    and body[pos].kind == "word"
                    and body[pos].text not in _CLAUSE_WORDS
                ):
                    pos += 1
        elif w in ("VALUE", "VALUES"):
            opt("IS", "ARE")
            item.value = literal(take("a literal after VALUE"))
        elif w in ("JUST", "JUSTIFIED"):
            opt("RIGHT")
        elif w == "BLANK":
            opt("WHEN")
            z = take("ZERO")
            if z.text not in ("ZERO", "ZEROS", "ZEROES"):
                raise err(f"expected ZERO after BLANK WHEN, found {_show(z)}", z)
        elif w in ("SYNC", "SYNCHRONIZED"):
            opt("LEFT", "RIGHT")
        elif w in ("GLOBAL", "EXTERNAL", "IS"):
            pass
        elif w and (w.startswith("COMP") or w.startswith("COMPUTATIONAL")):
            raise err(f"unknown USAGE {_show(t)}", t)
        else:
            raise err(f"unexpected {_show(t)}", t)
    return item, extra


def _set_usage(item: Item, tok: _Tok, err) -> None:
    w = tok.text if tok.kind == "word" else ""
    if w in _UNSUPPORTED_USAGES:
        raise err(f"USAGE {w} is not supported", tok)
    if w not in _USAGE_WORDS:
        raise err(f"unknown USAGE {_show(tok)}", tok)
    item.usage = _USAGE_WORDS[w]
    item.usage_word = w


def _show(t: _Tok) -> str:
    if t.kind == "period":
        return "'.'"
    if t.kind == "lit":
        return "a literal"
    return repr(t.raw or t.text)


# ------------------------------------------------------------------------------- pictures

_PIC_TOKEN = re.compile(r"(CR|DB|[A-Z0-9$*+\-.,/])(\((\d+)\))?")
_EDIT_CHARS = set("Z*+-.,B0/$E") | {"CR", "DB"}


def _analyse_pic(item: Item, source: str) -> None:
    """Fill kind/digits/scale/signed/size for an elementary item from PIC and usage."""
    usage = item.eff_usage

    def perr(msg: str, idx: int = 0) -> CopybookError:
        return CopybookError(
            msg,
            source,
            item.pic_line or item.line,
            (item.pic_col + idx) if item.pic_col else item.column,
        )

    if usage in ("comp-1", "comp-2"):
        if item.pic is not None:
            raise perr(f"USAGE {usage.upper()} takes no PICTURE")
        item.kind = "float"
        item.size = 4 if usage == "comp-1" else 8
        item.signed = True
        return
    if usage in ("index", "pointer"):
        item.kind, item.size, item.digits, item.signed = "binary", 4, 9, usage == "index"
        return
    pic = item.pic
    if pic is None:
        raise CopybookError(
            f"elementary item {item.name} has no PICTURE", source, item.line, item.column
        )
    chars: list[str] = []
    pos = 0
    while pos < len(pic):
        m = _PIC_TOKEN.match(pic, pos)
        if not m:
            raise perr(f"invalid character {pic[pos]!r} in PICTURE {pic}", pos)
        sym = m.group(1)
        count = 1
        if m.group(2):
            count = int(m.group(3))
            if count < 1:
                raise perr(f"repeat count must be at least 1 in PICTURE {pic}", m.start(2))
        elif pos < len(pic) and m.end() < len(pic) and pic[m.end()] == "(":
            raise perr(f"malformed repeat count in PICTURE {pic}", m.end())
        if count > 1_000_000:
            raise perr(f"repeat count too large in PICTURE {pic}", m.start(2))
        chars.extend([sym] * count)
        pos = m.end()
    if "(" in pic and not re.fullmatch(r"(?:(?:CR|DB|[A-Z0-9$*+\-.,/])(?:\(\d+\))?)+", pic):
        raise perr(f"malformed repeat count in PICTURE {pic}", pic.index("("))
    syms = set(chars)
    if syms <= {"N"} or syms <= {"G"}:
        if usage not in ("display", "display-1", "national"):
            raise perr(f"PICTURE {pic} (DBCS) cannot have USAGE {item.usage_word or usage.upper()}")
        item.kind = "dbcs"
        item.size = 2 * len(chars)
        return
    if "N" in syms or "G" in syms:
        raise perr(f"PICTURE {pic} mixes DBCS (N/G) with other symbols")
    if syms & {"X", "A"}:
        if not syms <= {"X", "A", "9"}:
            raise perr(f"PICTURE {pic}: alphanumeric picture with numeric symbols")
        if usage not in ("display",):
            raise perr(
                f"alphanumeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        item.kind = "alphanumeric"
        item.size = len(chars)
        return
    if syms <= {"9", "S", "V", "P"}:
        if "9" not in syms:
            raise perr(f"PICTURE {pic} has no digit positions")
        if chars.count("S") > 1 or ("S" in syms and chars[0] != "S"):
            raise perr(
                f"S must appear once, at the start of PICTURE {pic}",
                pic.find("S", 1) if chars[0] == "S" else pic.find("S"),
            )
        if chars.count("V") > 1:
            raise perr(f"V appears more than once in PICTURE {pic}", pic.rfind("V"))
        signed = "S" in syms
        body = [c for c in chars if c != "S"]
        digits = body.count("9")
        # decimal point: at V; else before leading P's; else at the end
        if "V" in body:
            vpos = body.index("V")
            positions_right = sum(1 for c in body[vpos + 1 :] if c in "9P")
        elif body[0] == "P":
            positions_right = sum(1 for c in body if c in "9P")
        else:
            positions_right = 0
        positions = [c for c in body if c in "9P"]
        last9 = max(i for i, c in enumerate(positions) if c == "9")
        trailing_p = len(positions) - 1 - last9
        first9 = positions.index("9")
        if "P" in positions[first9 : last9 + 1]:
            raise perr(
                f"P must be at the left or right end of the digits in PICTURE {pic}", pic.find("P")
            )
        scale = positions_right - trailing_p
        if digits > 38:
            raise perr(f"PICTURE {pic} has {digits} digits; at most 38 are supported")
        item.digits, item.scale, item.signed = digits, scale, signed
        if usage in ("display",):
            item.kind = "zoned"
            if signed:
                item.eff_sign = item.eff_sign or "trailing"
            else:
                item.eff_sign = None
                item.eff_separate = False
            item.size = digits + (1 if signed and item.eff_separate else 0)
        elif usage == "packed":
            item.kind = "packed"
            item.size = digits // 2 + 1
        elif usage in ("binary", "comp-5"):
            item.kind = "binary"
            if digits > 18:
                raise perr(f"binary PICTURE {pic} has {digits} digits; at most 18 fit")
            item.size = 2 if digits <= 4 else (4 if digits <= 9 else 8)
        else:
            raise perr(
                f"numeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        if usage != "display" and item.sign_separate:
            raise perr("SIGN SEPARATE applies only to USAGE DISPLAY")
        return
    # numeric-edited: read as text of its printed width
    if not syms <= (_EDIT_CHARS | {"9", "V", "S", "P"}):
        bad = sorted(syms - (_EDIT_CHARS | {"9", "V", "S", "P"}))[0]
        raise perr(f"invalid symbol {bad!r} in PICTURE {pic}", pic.find(bad))
    if usage != "display":
        raise perr(
            f"numeric-edited PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
        )
    item.kind = "alphanumeric"
    item.edited = True
    item.size = sum(2 if c in ("CR", "DB") else 1 for c in chars if c not in ("V", "S", "P"))


# ------------------------------------------------------------------------------ copybook


class Copybook:
    """A parsed copybook: one or more 01 records sharing the record area."""

    def __init__(self, records: list[Item], renames: dict[str, list[Renames]], source: str):
        self.records = records
        self.source = source
        self._renames = renames
        self._layouts: dict = {}

    @property
    def record_names(self) -> list[str]:
        return [r.name for r in self.records]

    @property
    def lrecl(self) -> int:
        """Size of the record area: the largest 01 record (OCCURS DEPENDING ON at maximum)."""
        return max((r.total_size for r in self.records), default=0)

    def items(self) -> Iterator[Item]:
        for r in self.records:
            yield from r.walk()

    def find(self, name: str) -> Item:
        """The item called ``name`` (``NAME``, ``GROUP.NAME`` or ``NAME OF GROUP``)."""
        name = name.strip().upper()
        if " OF " in name or " IN " in name:
            parts = re.split(r"\s+(?:OF|IN)\s+", name)
            want = parts  # innermost first
        else:
            want = name.split(".")[::-1]
        hits = []
        for it in self.items():
            if it.name != want[0] or it.filler:
                continue
            anc = [a.name for a in it.ancestors()][::-1]  # nearest first
            k = 0
            for q in want[1:]:
                while k < len(anc) and anc[k] != q:
                    k += 1
                if k >= len(anc):
                    break
                k += 1
            else:
                hits.append(it)
        if not hits:
            raise KeyError(f"no item {name!r} in copybook {self.source}")
        if len(hits) > 1:
            raise KeyError(f"item name {name!r} is ambiguous in copybook {self.source}: qualify it")
        return hits[0]

    def record(self, name: str | None = None) -> "RecordLayout":
        """Layout of an 01 record, or of the record seen through one REDEFINES alternative.

        ``name`` is an 01 record name, or a group that redefines (or is redefined by) another
        item: the layout then holds that alternative and leaves out its sibling alternatives.
        Without a name the copybook must hold exactly one 01 record.
        """
        if name is None:
            if len(self.records) != 1:
                raise KeyError(
                    f"copybook {self.source} has {len(self.records)} records "
                    f"({', '.join(self.record_names)}): name one"
                )
            name = self.records[0].name
        key = name.upper()
        if key not in self._layouts:
            self._layouts[key] = _build_layout(self, self.find(key))
        return self._layouts[key]

    def renames(self, record: str) -> list[Renames]:
        return list(self._renames.get(record.upper(), []))

    def __repr__(self) -> str:
        return f"Copybook({self.source!r}, records={self.record_names})"


class RecordLayout:
    """A record as seen through one layout: the flat list of elementary fields."""

    def __init__(
        self,
        name: str,
        record: Item,
        root: Item,
        fields: list[Field],
        odo: list[tuple],
        renames: list[Renames],
        source: str,
        *,
        item_columns: dict[int, str] | None = None,
        excluded: set[int] | None = None,
        min_length: int = 0,
    ):
        self._item_columns = item_columns or {}
        self._excluded = excluded or set()
        self._min_length = min_length
        self.name = name
        self.record = record  # the 01 item
        self.root = root  # the selected item (the 01 record or a REDEFINES alternative)
        self.fields = fields  # every elementary field, FILLER included (filler=True)
        self.odo = odo  # [(Dim, table_offset, table_end_at_max)]
        self.renames = renames
        self.source = source
        self._by: dict[str, Field] = {}
        names: dict[str, list[Field]] = {}
        for f in fields:
            names.setdefault(f.name, []).append(f)
            self._by[f.column] = f
        for n, fs in names.items():
            if len(fs) == 1 and n not in self._by:
                self._by[n] = fs[0]
        for f in fields:
            self._by.setdefault(f.qualified, f)

    @property
    def size(self) -> int:
        """Record length at the maximum of every OCCURS DEPENDING ON (the 01 record's size)."""
        return self.record.total_size

    @property
    def data_fields(self) -> list[Field]:
        """Fields that become output columns (FILLER left out)."""
        return [f for f in self.fields if not f.filler]

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.data_fields]

    @property
    def variable(self) -> bool:
        return bool(self.odo)

    def field(self, name: str) -> Field:
        key = name.strip().upper()
        try:
            return self._by[key]
        except KeyError:
            raise KeyError(f"no field {name!r} in layout {self.name}") from None

    def __contains__(self, name: str) -> bool:
        return name.strip().upper() in self._by

    def with_kinds(self, mixed: tuple[str, ...] | list[str] = ()) -> "RecordLayout":
        """A copy where the named PIC X fields are mixed SBCS/DBCS text (SO/SI shift codes).

        Names that this layout does not hold are ignored (a copybook may hold several layouts);
        a named field that is not alphanumeric raises ValueError.
        """
        want = {m.strip().upper() for m in mixed}
        if not want:
            return self
        fields = []
        for f in self.fields:
            if f.column in want or f.name in want or f.qualified in want:
                if f.kind not in ("alphanumeric", "mixed"):
                    raise ValueError(f"field {f.column} is {f.kind}, it cannot be declared mixed")
                f = replace(f, kind="mixed")
            fields.append(f)
        return RecordLayout(
            self.name,
            self.record,
            self.root,
            fields,
            self.odo,
            self.renames,
            self.source,
            item_columns=self._item_columns,
            excluded=self._excluded,
            min_length=self._min_length,
        )

    def tree(self) -> list:
        """Nesting for JSON output below the 01 record: ``[(name, column, children, has_occurs)]``
        with ``column`` None for groups; FILLER and excluded REDEFINES alternatives left out."""
        return _tree(self.record, self._item_columns, self._excluded)

    def min_length(self) -> int:
        """Bytes a record needs for every field at the OCCURS DEPENDING ON minimum."""
        return self._min_length

    def __repr__(self) -> str:
        return f"RecordLayout({self.name}, size={self.size}, fields={len(self.fields)})"


def _tree(item: Item, cols: dict, excluded: set) -> list:
    out = []
    for c in item.children:
        if id(c) in excluded or c.filler:
            continue
        if c.children:
            out.append((c.name, None, _tree(c, cols, excluded), c.occurs_max is not None))
        else:
            out.append((c.name, cols.get(id(c)), [], c.occurs_max is not None))
    return out


def _build_layout(cb: Copybook, target: Item) -> RecordLayout:
    anc = target.ancestors()
    record = anc[0] if anc else target
    if not target.children and target is not record:
        raise KeyError(f"{target.name} is an elementary item, not a record or group")
    # items excluded: sibling alternatives of the target and of each of its ancestors
    excluded: set[int] = set()
    chain = anc[1:] + [target] if anc else []
    for node in chain:
        parent = node.parent
        group = _redef_group(node, parent.children)
        if len(group) > 1:
            for other in group:
                if other is not node:
                    excluded.add(id(other))
    fields: list[Field] = []
    item_cols: dict[int, Item] = {}
    odo: list[tuple] = []

    def visit(
        it: Item,
        path: tuple[str, ...],
        dims: tuple[Dim, ...],
        redef: str | None,
        lenient: bool,
        odo_parent: bool,
    ):
        if id(it) in excluded:
            return
        d = dims
        if it.occurs_max is not None:
            if it.depends_on and any(x.depends_on for x in dims):
                raise CopybookError(
                    "nested OCCURS DEPENDING ON is not supported", cb.source, it.line, it.column
                )
            if it.depends_on and dims:
                raise CopybookError(
                    "OCCURS DEPENDING ON inside another OCCURS is not supported",
                    cb.source,
                    it.line,
                    it.column,
                )
            mn = it.occurs_min if it.occurs_min is not None else it.occurs_max
            d = dims + (Dim(it.occurs_max, mn, it.size, it.depends_on, it.name),)
            if it.depends_on:
                odo.append((d[-1], it.offset, it.offset + it.total_size))
        r = it.redefines or redef
        if it.redefines is not None and it is not target:
            lenient = True
        if it.children:
            for c in it.children:
                visit(c, path + (it.name,), d, r, lenient, odo_parent or bool(it.depends_on))
            return
        fields.append(
            Field(
                name=it.name,
                path=path,
                offset=it.offset,
                size=it.size,
                kind=it.kind,
                digits=it.digits,
                scale=it.scale,
                signed=it.signed,
                sign_position=it.eff_sign if it.kind == "zoned" and it.signed else None,
                sign_separate=bool(it.eff_separate) if it.kind == "zoned" and it.signed else False,
                dims=d,
                redefines=r,
                usage=it.eff_usage,
                pic=it.pic,
                conditions=dict(it.conditions),
                value=it.value,
                line=it.line,
                filler=it.filler,
                lenient=lenient,
                edited=it.edited,
            )
        )
        item_cols[len(fields) - 1] = it

    visit(record, (), (), None, False, False)
    # the record name is not part of a field's path for naming purposes, but keep it in `path`
    # column names: leaf name, qualified by the nearest groups only on collision
    data = [i for i, f in enumerate(fields) if not f.filler]
    by_name: dict[str, list[int]] = {}
    for i in data:
        by_name.setdefault(fields[i].name, []).append(i)
    colnames: dict[int, str] = {}
    for name, idxs in by_name.items():
        if len(idxs) == 1:
            colnames[idxs[0]] = name
            continue
        k = 1
        while True:
            cand = {i: ".".join(fields[i].path[1:][-k:] + (name,)) if k else name for i in idxs}
            if len(set(cand.values())) == len(idxs) or k > 64:
                colnames.update(cand)
                break
            k += 1
    # ODO shifts: fields that start at or after the end of a table (and are not inside it)
    result = []
    for i, f in enumerate(fields):
        shifts = tuple(
            t
            for t, (dim, start, end) in enumerate(odo)
            if f.offset >= end and not any(x is dim for x in f.dims)
        )
        result.append(replace(f, column=colnames.get(i, ""), shifts=shifts))
    # the depends_on field must exist in the layout and be a plain numeric field before the table
    for dim, start, end in odo:
        try:
            dep = next(x for x in result if x.name == dim.depends_on and not x.dims)
        except StopIteration:
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: no such field in record {record.name}",
                cb.source,
                0,
                0,
            ) from None
        if not dep.is_numeric:
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: not a numeric field", cb.source, dep.line, 0
            )
        if dep.offset + dep.size > start:
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: the count must come before the table",
                cb.source,
                dep.line,
                0,
            )
    cols_by_item = {id(it): result[i].column for i, it in item_cols.items()}
    # minimum length: every field's end with each table at its minimum count
    min_len = 0
    for f in result:
        end = f.offset + f.size
        for j, dm in enumerate(f.dims):
            cnt = dm.min if dm.depends_on else dm.max
            end += (max(cnt, 1) - 1) * dm.stride
        for t in f.shifts:
            dim, _, _ = odo[t]
            end -= (dim.max - dim.min) * dim.stride
        if f.dims and any(dm.depends_on and dm.min == 0 for dm in f.dims):
            continue
        min_len = max(min_len, end)
    return RecordLayout(
        target.name,
        record,
        target,
        result,
        odo,
        cb.renames(record.name),
        cb.source,
        item_columns=cols_by_item,
        excluded=excluded,
        min_length=min_len,
    )


def _redef_group(node: Item, siblings: list[Item]) -> list[Item]:
    """The REDEFINES alternatives ``node`` belongs to (itself only when it has none)."""
    base = node.redefines or node.name
    return [s for s in siblings if s is node or s.name == base or s.redefines == base]


# ------------------------------------------------------------------------------ assembly


def parse_copybook(text: str, source: str = "<copybook>", format: str = "fixed") -> Copybook:
    """Parse copybook text into a :class:`Copybook`; raises :class:`CopybookError`."""
    if format not in ("fixed", "free"):
        raise ValueError("format must be 'fixed' or 'free'")
    toks = _tokenize(text, source, format)
    if not toks:
        raise CopybookError("no data description entries", source, 1, 1)
    parser = _Parser(toks, source)
    records: list[Item] = []
    renames: dict[str, list[tuple]] = {}
    stack: list[Item] = []
    last: Item | None = None
    for level_tok, body in parser.entries():
        item, extra = _entry(level_tok, body, source)
        lvl = item.level
        if lvl == 88:
            if last is None:
                raise CopybookError(
                    "level 88 entry before any data item", source, item.line, item.column
                )
            if item.name in last.conditions:
                raise CopybookError(
                    f"duplicate condition name {item.name}", source, item.line, item.column
                )
            last.conditions[item.name] = extra["values"]
            continue
        if lvl == 66:
            if not records:
                raise CopybookError(
                    "level 66 entry before any 01 record", source, item.line, item.column
                )
            renames.setdefault(records[-1].name, []).append((item, extra["renames"]))
            continue
        if lvl in (1, 77):
            if item.redefines is not None and not any(r.name == item.redefines for r in records):
                raise CopybookError(
                    f"REDEFINES {item.redefines}: no such 01 record before it",
                    source,
                    item.line,
                    item.redefines_col or item.column,
                )
            if any(r.name == item.name for r in records) and not item.filler:
                raise CopybookError(
                    f"duplicate record name {item.name}", source, item.line, item.column
                )
            records.append(item)
            stack = [item]
            last = item
            continue
        if not stack:
            raise CopybookError(
                f"level {lvl:02d} item {item.name} before any 01 record",
                source,
                item.line,
                item.column,
            )
        while stack and stack[-1].level >= lvl:
            stack.pop()
        if not stack:
            raise CopybookError(
                f"level {lvl:02d} item {item.name} outside any 01 record",
                source,
                item.line,
                item.column,
            )
        parent = stack[-1]
        if parent.level == 77:
            raise CopybookError(
                "a level 77 item cannot have subordinate items", source, item.line, item.column
            )
        if parent.pic is not None:
            raise CopybookError(
                f"{parent.name} has a PICTURE but subordinate items follow",
                source,
                parent.line,
                parent.pic_col or parent.column,
            )
        item.parent = parent
        parent.children.append(item)
        stack.append(item)
        last = item
    if not records:
        raise CopybookError("no 01 record in copybook", source, 1, 1)
    for r in records:
        _resolve(r, source, None)
        _place(r, 0, source)
    rn: dict[str, list[Renames]] = {}
    for rec in records:
        for item, (first, lst) in renames.get(rec.name, []):
            rn.setdefault(rec.name, []).append(_renames(rec, item, first, lst, source))
    cb = Copybook(records, rn, source)
    for r in records:  # validate every record's layout now (OCCURS DEPENDING ON targets ...)
        for it in r.walk():
            if it.depends_on and not any(
                x.name == it.depends_on and not x.children for x in r.walk()
            ):
                raise CopybookError(
                    f"OCCURS DEPENDING ON {it.depends_on}: no such field in record {r.name}",
                    source,
                    it.line,
                    it.column,
                )
        cb._layouts.setdefault(r.name, _build_layout(cb, r))
    return cb


def _resolve(item: Item, source: str, parent: Item | None) -> None:
    """Inherit USAGE / SIGN from groups and analyse pictures."""
    if parent is not None:
        item.eff_usage = item.usage or parent.eff_usage
        item.usage_word = item.usage_word or parent.usage_word
        item.eff_sign = item.sign or parent.eff_sign
        item.eff_separate = (
            item.sign_separate if item.sign_separate is not None else parent.eff_separate
        )
    else:
        item.eff_usage = item.usage or "display"
        item.eff_sign = item.sign
        item.eff_separate = bool(item.sign_separate)
    if item.children:
        if item.pic is not None:
            raise CopybookError(
                f"group {item.name} cannot have a PICTURE",
                source,
                item.line,
                item.pic_col or item.column,
            )
        if item.eff_usage in ("comp-1", "comp-2", "index", "pointer") and item.usage:
            pass
        for c in item.children:
            _resolve(c, source, item)
        return
    if item.level == 1 and item.pic is None and item.usage is None:
        raise CopybookError(f"record {item.name} has no fields", source, item.line, item.column)
    _analyse_pic(item, source)
    if item.sign_separate and item.kind != "zoned" and item.sign is not None:
        raise CopybookError(
            "SIGN SEPARATE applies only to numeric DISPLAY items", source, item.line, item.column
        )


def _place(item: Item, offset: int, source: str) -> None:
    """Assign absolute offsets and sizes (tables at their maximum)."""
    item.offset = offset
    if not item.children:
        return
    cursor = offset
    end = offset
    for idx, c in enumerate(item.children):
        if c.redefines is not None:
            target = None
            for prev in reversed(item.children[:idx]):
                if prev.name == c.redefines:
                    target = prev
                    break
            if target is None:
                raise CopybookError(
                    f"REDEFINES {c.redefines}: no such item at the same level before it",
                    source,
                    c.line,
                    c.redefines_col or c.column,
                )
            if target.level != c.level:
                raise CopybookError(
                    f"REDEFINES {c.redefines}: levels differ ({c.level:02d} vs {target.level:02d})",
                    source,
                    c.line,
                    c.redefines_col or c.column,
                )
            if c.occurs_max is not None:
                raise CopybookError(
                    "an item with REDEFINES cannot have OCCURS", source, c.line, c.column
                )
            _place(c, target.offset, source)
        else:
            _place(c, cursor, source)
        end = max(end, c.offset + c.total_size)
        cursor = max(cursor, c.offset + c.total_size)
    item.size = end - offset


def _renames(rec: Item, item: Item, first: _Tok, last: _Tok, source: str) -> Renames:
    flat = [i for i in rec.walk() if i is not rec]
    try:
        a = next(i for i in flat if i.name == first.text)
    except StopIteration:
        raise CopybookError(
            f"RENAMES {first.text}: no such item in {rec.name}", source, first.line, first.col
        ) from None
    try:
        b = next(i for i in flat if i.name == last.text)
    except StopIteration:
        raise CopybookError(
            f"RENAMES THRU {last.text}: no such item in {rec.name}", source, last.line, last.col
        ) from None
    start = a.offset
    end = b.offset + b.total_size
    if end <= start:
        raise CopybookError(
            f"RENAMES {first.text} THRU {last.text}: range is empty", source, last.line, last.col
        )
    names = tuple(
        i.name for i in flat if not i.children and start <= i.offset < end and not i.filler
    )
    return Renames(item.name, a.name, b.name, start, end - start, names)
