"""Data cleansing (データ整理): standard characters, notation variants, 和暦, addresses, identifiers, 名寄せ.

The public 和暦 parser is :func:`parse_wareki` (returns a ``datetime.date`` or raises a
``ValueError`` subclass naming the reason).

- :mod:`ikou.cleanse.rules` — value rules and checks, :data:`~ikou.cleanse.rules.DEFAULT_RULES` by role;
- :mod:`ikou.cleanse.config` — per-domain overrides (registry ``cleanse:``) and the city's context;
- :mod:`ikou.cleanse.stage` — one table: rules, checks, dates, address components, the change ledger;
- :mod:`ikou.cleanse.address` — components and the town list; :mod:`ikou.moji.standard` — characters;
- :mod:`ikou.cleanse.dedupe` — 名寄せ (splink + DuckDB), ``ikou dedupe``;
- :mod:`ikou.cleanse.review` — the review queue, pages and decisions; :mod:`ikou.cleanse.merge` — the
  old → new 宛名番号 map and where it is applied;
- :mod:`ikou.cleanse.run` — the cleanse stage of a domain run; :mod:`ikou.cleanse.report` — its report.
"""

from ikou.wareki import (  # noqa: F401 - the public 和暦 parser, re-exported
    EraRangeError,
    ImpossibleDate,
    LunisolarDate,
    PartialDate,
    PlaceholderDate,
    WarekiError,
    WarekiFormatError,
    parse_wareki,
)
