"""Data cleansing (データ整理): standard characters, notation variants, 和暦, addresses, identifiers.

The public 和暦 parser is :func:`parse_wareki` (returns a ``datetime.date`` or raises a
``ValueError`` subclass naming the reason).
"""

from ikou.cleanse.wareki import (  # noqa: F401
    EraRangeError,
    ImpossibleDate,
    LunisolarDate,
    PartialDate,
    PlaceholderDate,
    WarekiError,
    WarekiFormatError,
    parse_wareki,
)
