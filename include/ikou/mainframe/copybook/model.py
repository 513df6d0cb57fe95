"""The copybook model: entries as written (:class:`Item`), laid-out fields (:class:`Field`),
OCCURS dimensions, RENAMES, and :class:`CopybookError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

KINDS = (
    "alphanumeric",
    "zoned",
    "packed",
    "binary",
    "float",
    "dbcs",
    "mixed",
    "edited",
    "national",
)


class CopybookError(ValueError):
    """A copybook that cannot be parsed; the message names source, line and column."""

    def __init__(self, message: str, source: str = "<copybook>", line: int = 0, column: int = 0):
        self.reason = message
        self.source = source
        self.line = line
        self.column = column
        where = f"{source}:{line}:{column}" if line else source
        super().__init__(f"{where}: {message}")


# ------------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class Dim:
    """One OCCURS dimension of a field: ``max`` elements ``stride`` bytes apart."""

    max: int
    min: int
    stride: int
    depends_on: str | None  # name of the count field for OCCURS ... DEPENDING ON
    owner: str  # the item that carries the OCCURS clause
    implied_min: bool = (
        False  # OCCURS n DEPENDING ON without "m TO": minimum 1, a count of 0 tolerated
    )


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
    edited: bool = False  # numeric-edited picture (kind "edited"), or alphanumeric-edited text
    blank_when_zero: bool = False

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
        return self.kind in ("alphanumeric", "dbcs", "mixed", "national")

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("zoned", "packed", "binary", "float", "edited")

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
    parent: Item | None = None
    children: list[Item] = field(default_factory=list)
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
    sync: bool = False
    occurs_implied_min: bool = False
    blank_when_zero: bool = False
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
        return bool(self.children) or (self.pic is None and self.eff_usage not in NO_PIC_USAGES)

    @property
    def total_size(self) -> int:
        return self.size * (self.occurs_max or 1)

    def walk(self) -> Iterator[Item]:
        yield self
        for c in self.children:
            yield from c.walk()

    def ancestors(self) -> list[Item]:
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


NO_PIC_USAGES = ("comp-1", "comp-2", "index", "pointer")
