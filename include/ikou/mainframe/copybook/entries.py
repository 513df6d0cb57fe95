"""One data description entry at a time: the token stream split into entries (up to each
separator period; program headers, file descriptions and level-78 constants skipped) and each
entry parsed into an :class:`~ikou.mainframe.copybook.model.Item` with its clauses (PIC, USAGE,
OCCURS, REDEFINES, VALUE, 88-level conditions …). :mod:`ikou.mainframe.copybook.parser` assembles
the entries into records."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Iterator

from ikou.mainframe.copybook.lexer import Tok
from ikou.mainframe.copybook.model import CopybookError, Item

USAGE_WORDS = {
    "DISPLAY": "display",
    "DISPLAY-1": "display-1",
    "NATIONAL": "national",
    "COMP": "binary",
    "COMPUTATIONAL": "binary",
    "COMP-0": "binary",
    "COMPUTATIONAL-0": "binary",
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
UNSUPPORTED_USAGES = {
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
    | set(USAGE_WORDS)
    | UNSUPPORTED_USAGES
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


class EntrySplitter:
    """Splits the token stream into entries (tokens up to each separator period)."""

    def __init__(self, toks: list[Tok], source: str):
        self.toks = toks
        self.source = source
        self.i = 0
        self.unended: Tok | None = None  # the last entry had no period (tolerated, warned)

    def entries(self) -> Iterator[tuple[Tok, list[Tok]]]:
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
                # the copybook's last entry without its period: read as if it had one
                self.unended = self.toks[start]
            body = self.toks[start : self.i]
            self.i += 1
            if not body:
                continue  # stray period
            head = body[0]
            if head.kind == "word" and not head.text.isdigit():
                words = [t.text for t in body[:3] if t.kind == "word"]
                if head.text == "PROCEDURE" and "DIVISION" in words:
                    return  # a whole program: its data division ends here
                if head.text in ("FD", "SD", "RD", "CD") or any(
                    w in ("SECTION", "DIVISION") for w in words[1:3]
                ):
                    continue  # copybooks cut from a program: headers and file descriptions
            if head.kind == "word" and head.text == "78":
                continue  # level 78 constant (Micro Focus): no storage
            yield body[0], body[1:]


def parse_entry(level_tok: Tok, body: list[Tok], source: str) -> tuple[Item, dict]:
    """Parse one data description entry. Returns the item and extra info (RENAMES, 88 values)."""

    def err(msg: str, tok: Tok | None) -> CopybookError:
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

    def take(what: str) -> Tok:
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

    def literal(t: Tok):
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
        elif w in USAGE_WORDS or w in UNSUPPORTED_USAGES:
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
            written_min = False
            if opt("TO"):
                written_min = True
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
            if item.depends_on is not None and not written_min:
                # OCCURS n DEPENDING ON x: the minimum is 1 (IBM); a count of 0 is tolerated
                item.occurs_min = 1
                item.occurs_implied_min = True
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
            item.blank_when_zero = True
        elif w in ("SYNC", "SYNCHRONIZED"):
            opt("LEFT", "RIGHT")
            item.sync = True
        elif w in ("GLOBAL", "EXTERNAL", "IS"):
            pass
        elif w and (w.startswith("COMP") or w.startswith("COMPUTATIONAL")):
            raise err(f"unknown USAGE {_show(t)}", t)
        else:
            raise err(f"unexpected {_show(t)}", t)
    return item, extra


def _set_usage(item: Item, tok: Tok, err) -> None:
    w = tok.text if tok.kind == "word" else ""
    if w in UNSUPPORTED_USAGES:
        raise err(f"USAGE {w} is not supported", tok)
    if w not in USAGE_WORDS:
        raise err(f"unknown USAGE {_show(tok)}", tok)
    item.usage = USAGE_WORDS[w]
    item.usage_word = w


def _show(t: Tok) -> str:
    if t.kind == "period":
        return "'.'"
    if t.kind == "lit":
        return "a literal"
    return repr(t.raw or t.text)
