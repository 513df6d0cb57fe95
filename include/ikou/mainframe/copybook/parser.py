"""Tokens -> data description entries (:mod:`.entries`) -> the item tree of each 01 record ->
:class:`Copybook`."""

from __future__ import annotations

from pathlib import Path

from ikou.mainframe.copybook.entries import EntrySplitter, parse_entry
from ikou.mainframe.copybook.layout import Copybook
from ikou.mainframe.copybook.lexer import FORMATS, Tok, tokenize
from ikou.mainframe.copybook.library import expand_copies
from ikou.mainframe.copybook.model import CopybookError, Item, Renames
from ikou.mainframe.copybook.pictures import analyse_pic

# ------------------------------------------------------------------------------ assembly


def parse_copybook(
    text: str,
    source: str = "<copybook>",
    format: str = "auto",
    *,
    copybook_dirs: tuple = (),
    nsymbol: str = "dbcs",
    decimal_comma: bool = False,
    keep_filler: bool = False,
) -> Copybook:
    """Parse copybook text into a :class:`Copybook`; raises :class:`CopybookError`.

    format          auto (default) | fixed | free (see :mod:`ikou.mainframe.copybook.lexer`)
    copybook_dirs   where COPY members are looked up after the folder of ``source``
    nsymbol         "dbcs" (PIC N is host DBCS) or "national" (PIC N is UTF-16BE)
    decimal_comma   DECIMAL-POINT IS COMMA for numeric-edited pictures
    keep_filler     FILLER items become FILLER_1, FILLER_2 ... (copybook order) and columns
    ``Copybook.warnings`` lists notes that name a line (e.g. SIGN SEPARATE without S).
    """
    if format not in FORMATS:
        raise ValueError("format must be 'auto', 'fixed' or 'free'")
    if nsymbol not in ("dbcs", "national"):
        raise ValueError("nsymbol must be 'dbcs' or 'national'")
    toks = tokenize(text, source, format)
    src_dir = Path(source).parent if source and not source.startswith("<") else Path(".")
    members: list[Path] = []
    toks = expand_copies(
        toks, source, [src_dir, *(Path(d) for d in copybook_dirs)], format, used=members
    )
    warnings: list[str] = []
    if not toks:
        raise CopybookError("no data description entries", source, 1, 1)
    parser = EntrySplitter(toks, source)
    records: list[Item] = []
    renames: dict[str, list[tuple]] = {}
    stack: list[Item] = []
    last: Item | None = None
    for level_tok, body in parser.entries():
        item, extra = parse_entry(level_tok, body, source)
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
        if not stack and not records:
            # a copybook written without its 01 level (meant to be COPYed under one): its
            # items go under a record named RECORD, as Cobrix reads such a copybook
            root = Item(1, "RECORD", item.line, item.column)
            records.append(root)
            stack = [root]
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
    if keep_filler:
        k = 0
        for r in records:
            for it in r.walk():
                if it.filler and it is not r:
                    k += 1
                    it.name, it.filler = f"FILLER_{k}", False
    for r in records:
        _resolve(r, source, None, nsymbol, decimal_comma, warnings)
        _place(r, 0, source)
    rn: dict[str, list[Renames]] = {}
    for rec in records:
        for item, (first, lst) in renames.get(rec.name, []):
            rn.setdefault(rec.name, []).append(_renames(rec, item, first, lst, source))
    cb = Copybook(records, rn, source)
    cb.members = tuple(members)
    if parser.unended is not None:
        warnings.append(f"{source}:{parser.unended.line}: the last entry has no period")
    cb.warnings = warnings
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
        cb.prepare(r)
    return cb


def _resolve(
    item: Item,
    source: str,
    parent: Item | None,
    nsymbol: str = "dbcs",
    decimal_comma: bool = False,
    warnings: list | None = None,
) -> None:
    """Inherit USAGE / SIGN / SYNCHRONIZED from groups and analyse pictures."""
    if parent is not None:
        item.sync = item.sync or parent.sync
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
            _resolve(c, source, item, nsymbol, decimal_comma, warnings)
        return
    if item.level == 1 and item.pic is None and item.usage is None:
        raise CopybookError(f"record {item.name} has no fields", source, item.line, item.column)
    analyse_pic(item, source, nsymbol=nsymbol, decimal_comma=decimal_comma, warnings=warnings)
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
            a = alignment(c)
            if a > 1:  # SYNCHRONIZED: slack bytes up to the natural boundary (01 at offset 0)
                cursor = -(-cursor // a) * a
            _place(c, cursor, source)
        if c.children and c.occurs_max is not None:
            a = max((alignment(x) for x in c.walk()), default=1)
            if a > 1:  # each occurrence synchronized: slack bytes at the end of an element
                c.size = -(-c.size // a) * a
        end = max(end, c.offset + c.total_size)
        cursor = max(cursor, c.offset + c.total_size)
    item.size = end - offset


def alignment(item: Item) -> int:
    """The natural boundary of a SYNCHRONIZED elementary item (1 = none): binary halfword (2
    bytes) or fullword, COMP-1 / INDEX / POINTER fullword, COMP-2 doubleword (IBM)."""
    if not item.sync or item.children:
        return 1
    if item.kind == "binary":
        return 2 if item.size == 2 else 4
    if item.kind == "float":
        return item.size
    return 1


def _renames(rec: Item, item: Item, first: Tok, last: Tok, source: str) -> Renames:
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
