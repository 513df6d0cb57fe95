"""The standard character set, kana-only fields and unmapped 外字."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from typing import ClassVar, Dict, Tuple, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ikou.quality.expectations.common import (
    COLUMN_DOMAIN_KEYS,
    LIBRARY_METADATA,
    ColumnMapExpectation,
    ColumnMapMetricProvider,
    PandasExecutionEngine,
    Rendered,
    SqlAlchemyExecutionEngine,
    arrow_of,
    as_text,
    column_condition_partial,
    sa,
    series_of,
    with_renderer,
)

# ------------------------------------------------------------------------------ characters


#: Variation selectors (IVS U+E0100–U+E01EF, SVS U+FE00–U+FE0F): a 外字 mapped to "base + IVS"
#: (e.g. 葛 + U+E0100) is a standard character with a glyph variant.
def _is_variation_selector(c: str) -> bool:
    o = ord(c)
    return 0xE0100 <= o <= 0xE01EF or 0xFE00 <= o <= 0xFE0F


def _jis_x_0213(c: str) -> bool:
    if _is_variation_selector(c):
        return True
    if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn"):
        return False
    try:
        c.encode("euc_jis_2004")
        return True
    except UnicodeEncodeError:
        return False


_city_characters: frozenset[str] = frozenset()


def register_city_characters(texts: Iterable[str]) -> None:
    """The targets of the city's 外字 table (characters, IVS sequences, MJ+ additions): part of
    that city's standard character set (ikou.moji.standard). Registered by the gate for its run."""
    global _city_characters
    _city_characters = frozenset(t for t in texts if t)


def forget_city_characters() -> None:
    register_city_characters(())


@functools.lru_cache(maxsize=4)
def _standard_set(extra: frozenset[str]):
    from ikou.moji.standard import StandardCharset

    return StandardCharset(extra)


def standard_charset() -> tuple[str, Callable[[str], bool]]:
    """(name, check of one text) of the standard character set in use.

    :mod:`ikou.moji.standard` (行政事務標準文字 as the project can know it: JIS X 0208/0213, the host
    code pages' repertoire, IVS sequences, plus the city's 外字 targets registered by the gate);
    when that module is missing, JIS X 0213 through Python's ``euc_jis_2004`` codec with
    variation selectors allowed. Only characters *outside* the set count here: 〓 (an unmapped
    外字) is :class:`ExpectColumnValuesToHaveNoUnmappedGaiji`'s business.
    """
    try:
        cs = _standard_set(_city_characters)
    except ImportError:
        return "JIS X 0213 (euc_jis_2004) + IVS", lambda text: all(
            _jis_x_0213(c) or c == "〓" for c in text
        )

    def check(text: str) -> bool:
        return not any(kind.startswith("nonstandard") for kind, _ in cs.problems(text))

    return "ikou.moji.standard" + (" + city 外字 table" if _city_characters else ""), check


def in_standard_charset(text: str) -> bool:
    return standard_charset()[1](text)


def _plain_character(c: str) -> bool:
    """A character that is standard on its own (no sequence or variation selector involved)."""
    try:
        cs = _standard_set(_city_characters)
    except ImportError:
        return _jis_x_0213(c) and not _is_variation_selector(c)
    return ord(c) in cs.codepoints


def standard_text_rows(column: pd.Series) -> pd.Series:
    """Rows whose text is in the standard character set. The distinct *characters* of the column
    are checked once; only rows holding a character that is not standard on its own (an
    outsider, a variation selector, a combining mark) are judged text by text."""
    text = as_text(arrow_of(column))
    distinct = [v for v in pc.unique(text).to_pylist() if v]
    suspicious = sorted({c for c in set("".join(distinct)) if not _plain_character(c)})
    ok = np.ones(len(column), dtype=bool)
    if not suspicious:
        return pd.Series(ok, index=column.index)
    klass = "[" + "".join(f"\\x{{{ord(c):X}}}" for c in suspicious) + "]"
    hit = (
        pc.fill_null(pc.match_substring_regex(text, klass), False)
        .to_numpy(zero_copy_only=False)
        .astype(bool)
    )
    _, check = standard_charset()
    rows = np.flatnonzero(hit)
    values = pc.take(text, pa.array(rows)).to_pylist()
    verdict: dict[str, bool] = {}
    for i, v in zip(rows, values):
        good = verdict.get(v)
        if good is None:
            good = verdict[v] = check(v)
        ok[i] = good
    return pd.Series(ok, index=column.index)


#: What an unmapped 外字 leaves behind: the geta mark (extract's placeholder) or U+FFFD.
def is_unmapped_gaiji(c: str) -> bool:
    return c in ("〓", "\ufffd")


_FULL_KANA = "\u30a1-\u30fa\u30fc-\u30fe\u3000\u30fb"  # ァ-ヺ ー-ヾ, ideographic space, ・
_HALF_KANA = "\uff66-\uff9f "  # ｦ-ﾟ and space
#: RE2 patterns (real characters, not escapes: RE2 has no \u)
_KANA = {
    "full": f"^[{_FULL_KANA}]*$",
    "half": f"^[{_HALF_KANA}]*$",
    "any": f"^[{_FULL_KANA}{_HALF_KANA}]*$",
}


class ColumnValuesInStandardCharset(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_in_standard_charset"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return standard_text_rows(column)


class ColumnValuesNoUnmappedGaiji(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_no_unmapped_gaiji"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        data = as_text(arrow_of(column))
        hit = pc.match_substring_regex(data, r"[〓\x{FFFD}]")
        return series_of(pc.invert(hit), column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.not_(column.contains("〓"))


class ColumnValuesKana(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_kana"
    condition_value_keys = ("width",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, width="full", **kwargs):
        pattern = _KANA.get(width or "full")
        if pattern is None:
            raise ValueError("width must be full, half or any")
        data = as_text(arrow_of(column))
        return series_of(pc.match_substring_regex(data, pattern), column)


@with_renderer
class ExpectColumnValuesToBeInStandardCharset(Rendered, ColumnMapExpectation):
    """Text only in the standard character set (行政事務標準文字 as :mod:`ikou.moji.standard`
    approximates it, extended by the targets of the city's 外字 table)."""

    TEMPLATE: ClassVar[str] = "text only in the standard character set (行政事務標準文字)"

    map_metric = "column_values.ikou_in_standard_charset"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA


@with_renderer
class ExpectColumnValuesToHaveNoUnmappedGaiji(Rendered, ColumnMapExpectation):
    """No unmapped 外字: no 〓 (extract's placeholder for a code missing from the city's 外字
    table) and no U+FFFD. (A private-use character may be a mapped MJ+ addition: the standard
    character set expectation judges it against the city's table.)"""

    TEMPLATE: ClassVar[str] = "no unmapped 外字 (no 〓 placeholder)"

    map_metric = "column_values.ikou_no_unmapped_gaiji"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA


@with_renderer
class ExpectColumnValuesToBeKana(Rendered, ColumnMapExpectation):
    """Kana-only text (フリガナ): ``full`` = full-width katakana, 長音, 中点 and the ideographic
    space; ``half`` = half-width katakana and space (as legacy files hold it); ``any`` = either."""

    TEMPLATE: ClassVar[str] = "kana only (カナ, width $width)"

    width: str = "full"
    map_metric = "column_values.ikou_kana"
    success_keys = ("width", "mostly")
    args_keys = ("column", "width")
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA
