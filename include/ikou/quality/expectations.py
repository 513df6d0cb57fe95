"""Ikou's custom Great Expectations (GX Core 1.x) expectations.

Importing this module registers them with GX (GX registers an expectation class when it is
defined); :func:`ikou.quality.gate.context` imports it before it loads the suites, and the GX
project's ``plugins/ikou_expectations.py`` imports it too, so a plain ``gx.get_context()`` on
``great_expectations/gx`` finds them.

Column map expectations (each row yes/no, ``mostly`` threshold, unexpected *counts* only —
Ikou runs every checkpoint with ``BASIC`` and ``partial_unexpected_count: 0``):

==================================================  =====================================================
``expect_column_values_to_be_valid_my_number``      個人番号: 12 digits with the check digit of 総務省令第85号
                                                    (``allow_corporate_number``: or a 13-digit 法人番号, as in
                                                    the 宛名 master where corporations hold one)
``expect_column_values_to_be_valid_corporate_number``  法人番号: 13 digits, leading check digit
``expect_column_values_to_be_valid_juminhyo_code``  住民票コード: 11 digits (``rule``: ``format`` — the real check
                                                    digit formula is not confirmed, see ikou.identifiers)
``expect_column_values_to_be_in_standard_charset``  text only in the standard character set (``ikou.moji.standard``
                                                    with the city's 外字 targets; without that module JIS X 0213
                                                    via ``euc_jis_2004``, IVS allowed)
``expect_column_values_to_be_kana``                 kana-only fields (``width``: full / half / any)
``expect_column_values_to_be_within_era_range``     dates within an era's range: era code + YYMMDD (``era_code``),
                                                    YYYYMMDD numbers (``ymd``) or dates (``date``), from 明治 to
                                                    ``latest`` (the snapshot)
``expect_column_values_to_be_in_code_list``         code values in a versioned code list (layout code lists and
                                                    the copybooks' 88-levels), named by ``code_list``
``expect_column_values_to_have_no_unmapped_gaiji``  no 〓 (extract's placeholder) / U+FFFD left by unmapped 外字
``expect_column_values_to_exist_in_addressee_master``  referential integrity: every 宛名番号 exists in the addressee
                                                    (宛名) master of the same snapshot (residents, 住登外者,
                                                    corporations). Pandas: the master's ids registered by the
                                                    gate (:func:`register_reference_set`); SQL: a sub-query in
                                                    the database (nothing is pulled)
==================================================  =====================================================

and one batch expectation, ``expect_column_to_have_layout_type`` (the column's physical type
matches the standard layout's type), evaluated from the table's column types (pandas dtypes, or
the database's reflected types).

Pandas implementations are vectorised (pyarrow compute, numpy): check digits on the digits'
bytes, characters per distinct *character* (only rows holding a suspicious one are looked at
closely), dates per distinct value (a city's 1.7M 宛名 records hold some 40,000 birth dates); at
a million rows a gate's suites take seconds (``python -m ikou_dev.bench gates``). The SQL
implementations (``gate_target``) are SQL expressions evaluated inside the database. No
implementation raises with a value from the data in its message.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

try:
    import sqlalchemy as sa
except ImportError:  # pragma: no cover - SQLAlchemy is in the lock
    sa = None  # type: ignore[assignment]

MEIJI_FIRST = dt.date(1868, 1, 25)  # first day of 明治: the earliest date a 和暦 can name
_COLUMN_DOMAIN_KEYS: Tuple[str, ...] = ("column", "row_condition", "condition_parser")
_LIB = {"maturity": "production", "tags": ["ikou"], "contributors": ["ikou"]}

# ----------------------------------------------------------------------------------- helpers


def _arrow(column: pd.Series) -> pa.ChunkedArray:
    """The pyarrow data behind a pandas column (zero-copy for ArrowDtype columns)."""
    arr = getattr(column, "array", None)
    data = getattr(arr, "_pa_array", None)
    if data is not None:
        return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])
    try:
        return pa.chunked_array([pa.array(column.to_numpy(dtype=object), from_pandas=True)])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.chunked_array(
            [pa.array([None if v is None else str(v) for v in column], pa.string())]
        )


def _as_text(data: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
        return data
    if pa.types.is_integer(data.type) or pa.types.is_decimal(data.type):
        return pc.cast(data, pa.string())
    return pc.cast(data, pa.string())


def _series(mask: pa.ChunkedArray | np.ndarray, column: pd.Series) -> pd.Series:
    """A plain boolean Series aligned with ``column`` (nulls count as expected: GX drops them)."""
    if isinstance(mask, (pa.ChunkedArray, pa.Array)):
        mask = pc.fill_null(mask, True).to_numpy(zero_copy_only=False)
    return pd.Series(np.asarray(mask, dtype=bool), index=column.index)


def _by_distinct(column: pd.Series, check: Callable[[Any], bool]) -> pd.Series:
    """Evaluate ``check`` once per distinct value and map the verdicts back onto the rows."""
    data = _arrow(column)
    distinct = pc.unique(data)
    bad = [v for v in distinct.to_pylist() if v is not None and not check(v)]
    if not bad:
        return pd.Series(np.ones(len(column), dtype=bool), index=column.index)
    return _series(pc.invert(pc.is_in(data, value_set=pa.array(bad, type=distinct.type))), column)


# ------------------------------------------------------------------------- rendering


class _Rendered:
    """A readable line in the Data Docs (instead of GX's raw ``type(**kwargs)``): each class says
    what it checks in ``TEMPLATE`` ($column, $mostly_pct and its own kwargs as $name)."""

    TEMPLATE: ClassVar[str] = ""

    @classmethod
    def _ikou_render(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        from great_expectations.render import RenderedStringTemplateContent

        cfg = configuration or (result.expectation_config if result is not None else None)
        params = dict((cfg.kwargs if cfg is not None else {}) or {})
        template = "$column: " + cls.TEMPLATE
        for k, v in list(params.items()):
            if isinstance(v, (list, tuple)):
                params[k] = " ".join(repr(x) if x == "" else str(x) for x in v) or "—"
            elif isinstance(v, dict):
                params[k] = "the snapshot" if "$PARAMETER" in v else json_dumps(v)
        mostly = params.get("mostly")
        if isinstance(mostly, (int, float)) and mostly < 1:
            params["mostly_pct"] = f"{mostly * 100:g}"
            template += " — at least $mostly_pct % of the rows"
        styling = (runtime_configuration or {}).get("styling", {})
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": template, "params": params, "styling": styling},
            )
        ]


def json_dumps(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _with_renderer(cls):
    """Register ``cls``'s readable line as its prescriptive renderer (what the Data Docs show)."""
    from great_expectations.expectations.registry import register_renderer
    from great_expectations.render import LegacyRendererType

    def fn(configuration=None, result=None, runtime_configuration=None, **kwargs):
        return cls._ikou_render(configuration, result, runtime_configuration, **kwargs)

    fn._renderer_type = LegacyRendererType.PRESCRIPTIVE  # type: ignore[attr-defined]
    quiet = logging.getLogger("great_expectations.expectations.registry")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it replaces GX's generic renderer on purpose
    try:
        register_renderer(object_name=cls.expectation_type, parent_class=cls, renderer_fn=fn)
    finally:
        quiet.setLevel(level)
    return cls


# ------------------------------------------------------------------------- identifiers


def _digit_rows(column: pd.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the rows holding exactly ``n`` ASCII digits, their digits as an (rows, n) int array).

    Vectorised: one regular-expression pass and a view of the strings' bytes — a city's million
    個人番号 are a million distinct values, so deciding per distinct value would not help."""
    text = _as_text(_arrow(column))
    fmt = pc.fill_null(pc.match_substring_regex(text, f"^[0-9]{{{n}}}$"), False)
    mask = fmt.to_numpy(zero_copy_only=False).astype(bool)
    ok = pc.filter(text, fmt)
    ok = ok.combine_chunks() if isinstance(ok, pa.ChunkedArray) else ok
    if len(ok) == 0:
        return mask, np.zeros((0, n), dtype=np.int64)
    offsets = np.frombuffer(
        ok.buffers()[1], dtype=np.int32 if pa.types.is_string(ok.type) else np.int64
    )
    offsets = offsets[ok.offset : ok.offset + len(ok) + 1]
    data = np.frombuffer(ok.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return mask, data.reshape(-1, n).astype(np.int64) - 48


def _my_number_valid(digits: np.ndarray) -> np.ndarray:
    weights = np.array((6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2), dtype=np.int64)
    r = (digits[:, :11] * weights).sum(axis=1) % 11
    return np.where(r <= 1, 0, 11 - r) == digits[:, 11]


def _corporate_number_valid(digits: np.ndarray) -> np.ndarray:
    weights = np.array([1, 2] * 6, dtype=np.int64)  # from the lowest body digit
    total = (digits[:, 1:][:, ::-1] * weights).sum(axis=1)
    return (9 - total % 9) == digits[:, 0]


def _valid_rows(column: pd.Series, n: int, check) -> np.ndarray:
    mask, digits = _digit_rows(column, n)
    out = np.zeros(len(column), dtype=bool)
    out[mask] = check(digits)
    return out


def my_numbers_valid(column: pd.Series, allow_corporate_number: bool = False) -> pd.Series:
    ok = _valid_rows(column, 12, _my_number_valid)
    if allow_corporate_number:
        ok |= _valid_rows(column, 13, _corporate_number_valid)
    return pd.Series(ok, index=column.index)


def my_number_ok(value: object, allow_corporate_number: bool = False) -> bool:
    from ikou.identifiers import is_valid_corporate_number, is_valid_my_number

    v = str(value)
    return is_valid_my_number(v) or (allow_corporate_number and is_valid_corporate_number(v))


def corporate_number_ok(value: object) -> bool:
    from ikou.identifiers import is_valid_corporate_number

    return is_valid_corporate_number(str(value))


def juminhyo_code_ok(value: object, rule: str = "format") -> bool:
    from ikou.identifiers import is_valid_juminhyo_code

    return is_valid_juminhyo_code(str(value), rule)


class ColumnValuesValidMyNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_my_number"
    condition_value_keys = ("allow_corporate_number",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, allow_corporate_number=False, **kwargs):
        return my_numbers_valid(column, bool(allow_corporate_number))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, allow_corporate_number=False, **kwargs):
        ok = _sql_my_number(column)
        return sa.or_(ok, _sql_corporate_number(column)) if allow_corporate_number else ok


class ColumnValuesValidCorporateNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_corporate_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return pd.Series(_valid_rows(column, 13, _corporate_number_valid), index=column.index)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return _sql_corporate_number(column)


class ColumnValuesValidJuminhyoCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_juminhyo_code"
    condition_value_keys = ("rule",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, rule="format", **kwargs):
        if (rule or "format") == "format":
            return pd.Series(_digit_rows(column, 11)[0], index=column.index)
        return _by_distinct(column, lambda v: juminhyo_code_ok(v, rule))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, rule="format", **kwargs):
        if (rule or "format") != "format":
            raise ValueError("only the 'format' rule of 住民票コード is implemented in SQL")
        return _sql_all_digits(column, 11)


def _sql_digit(column, i: int):
    return sa.cast(sa.func.substr(column, i, 1), sa.Integer)


def _sql_all_digits(column, n: int):
    return sa.and_(
        sa.func.length(column) == n,
        *[sa.func.substr(column, i, 1).between("0", "9") for i in range(1, n + 1)],
    )


def _sql_my_number(column):
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = sum(_sql_digit(column, i + 1) * w for i, w in enumerate(weights)) % 11
    check = sa.case((r <= 1, 0), else_=11 - r)
    return sa.and_(_sql_all_digits(column, 12), _sql_digit(column, 12) == check)


def _sql_corporate_number(column):
    # body = digits 2..13; weights 1,2,1,2,… from the lowest digit (position 13)
    total = sum(_sql_digit(column, 13 - k) * (1 if k % 2 == 0 else 2) for k in range(12))
    return sa.and_(_sql_all_digits(column, 13), _sql_digit(column, 1) == 9 - total % 9)


@_with_renderer
class ExpectColumnValuesToBeValidMyNumber(_Rendered, ColumnMapExpectation):
    """個人番号 (My Number): 12 digits whose last digit is the check digit of 総務省令第85号 art. 5.

    ``allow_corporate_number``: a 13-digit 法人番号 with a valid check digit also passes (the 宛名
    master holds one for each corporation in the same field).
    """

    TEMPLATE: ClassVar[str] = (
        "個人番号 (My Number) with a valid check digit (総務省令第85号); 法人番号 accepted: $allow_corporate_number"
    )

    allow_corporate_number: bool = False
    map_metric = "column_values.ikou_valid_my_number"
    success_keys = ("allow_corporate_number", "mostly")
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


@_with_renderer
class ExpectColumnValuesToBeValidCorporateNumber(_Rendered, ColumnMapExpectation):
    """法人番号 (corporate number): 13 digits, the first one the check digit."""

    TEMPLATE: ClassVar[str] = "法人番号 (corporate number) with a valid check digit"

    map_metric = "column_values.ikou_valid_corporate_number"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


@_with_renderer
class ExpectColumnValuesToBeValidJuminhyoCode(_Rendered, ColumnMapExpectation):
    """住民票コード: 11 digits. ``rule`` names the check (``format``; ``mod11-synthetic`` is the
    synthetic city's assumption, never the real formula)."""

    TEMPLATE: ClassVar[str] = "住民票コード of 11 digits (rule $rule)"

    rule: str = "format"
    map_metric = "column_values.ikou_valid_juminhyo_code"
    success_keys = ("rule", "mostly")
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


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
    text = _as_text(_arrow(column))
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
        data = _as_text(_arrow(column))
        hit = pc.match_substring_regex(data, r"[〓\x{FFFD}]")
        return _series(pc.invert(hit), column)

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
        data = _as_text(_arrow(column))
        return _series(pc.match_substring_regex(data, pattern), column)


@_with_renderer
class ExpectColumnValuesToBeInStandardCharset(_Rendered, ColumnMapExpectation):
    """Text only in the standard character set (行政事務標準文字 as :mod:`ikou.moji.standard`
    approximates it, extended by the targets of the city's 外字 table)."""

    TEMPLATE: ClassVar[str] = "text only in the standard character set (行政事務標準文字)"

    map_metric = "column_values.ikou_in_standard_charset"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


@_with_renderer
class ExpectColumnValuesToHaveNoUnmappedGaiji(_Rendered, ColumnMapExpectation):
    """No unmapped 外字: no 〓 (extract's placeholder for a code missing from the city's 外字
    table) and no U+FFFD. (A private-use character may be a mapped MJ+ addition: the standard
    character set expectation judges it against the city's table.)"""

    TEMPLATE: ClassVar[str] = "no unmapped 外字 (no 〓 placeholder)"

    map_metric = "column_values.ikou_no_unmapped_gaiji"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


@_with_renderer
class ExpectColumnValuesToBeKana(_Rendered, ColumnMapExpectation):
    """Kana-only text (フリガナ): ``full`` = full-width katakana, 長音, 中点 and the ideographic
    space; ``half`` = half-width katakana and space (as legacy files hold it); ``any`` = either."""

    TEMPLATE: ClassVar[str] = "kana only (カナ, width $width)"

    width: str = "full"
    map_metric = "column_values.ikou_kana"
    success_keys = ("width", "mostly")
    args_keys = ("column", "width")
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


# ----------------------------------------------------------------------------------- dates


def _as_date(v) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dict):  # an unresolved $PARAMETER
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def era_code_ok(
    value: int, scheme: dict | None, allow_partial: bool, latest: dt.date | None
) -> bool:
    """An era code + YYMMDD that names a real day (or, with ``allow_partial``, 日不詳/月日不詳)
    inside its era and not after ``latest``."""
    from ikou.wareki import COMMON_SCHEME, PartialDate, WarekiError, parse_wareki

    try:
        d = parse_wareki(f"{int(value):07d}", scheme or COMMON_SCHEME)
    except PartialDate as p:
        if not allow_partial:
            return False
        return latest is None or (p.year, p.month or 1) <= (
            latest.year,
            latest.month if p.month else 12,
        )
    except (WarekiError, ValueError):
        return False
    return latest is None or d <= latest


def ymd_ok(value: int, earliest: dt.date, latest: dt.date | None) -> bool:
    s = f"{int(value):08d}"
    try:
        d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError:
        return False
    return earliest <= d and (latest is None or d <= latest)


class ColumnValuesWithinEraRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_within_era_range"
    condition_value_keys = ("form", "scheme", "allow_partial", "allow_zero", "earliest", "latest")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column,
        form="date",
        scheme=None,
        allow_partial=True,
        allow_zero=False,
        earliest=None,
        latest=None,
        **kwargs,
    ):
        lo, hi = _as_date(earliest) or MEIJI_FIRST, _as_date(latest)
        if form == "era_code":
            return _by_distinct(
                column,
                lambda v: (
                    (allow_zero and int(v) == 0) or era_code_ok(v, scheme, bool(allow_partial), hi)
                ),
            )
        if form == "ymd":
            return _by_distinct(column, lambda v: (allow_zero and int(v) == 0) or ymd_ok(v, lo, hi))
        if form != "date":
            raise ValueError("form must be era_code, ymd or date")
        data = _arrow(column)
        if not pa.types.is_date(data.type):
            data = pc.cast(pc.cast(data, pa.timestamp("s")), pa.date32())
        ok = pc.greater_equal(data, pa.scalar(lo, pa.date32()))
        if hi is not None:
            ok = pc.and_(ok, pc.less_equal(data, pa.scalar(hi, pa.date32())))
        return _series(ok, column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        column,
        form="date",
        scheme=None,
        allow_partial=True,
        allow_zero=False,
        earliest=None,
        latest=None,
        **kwargs,
    ):
        if form != "date":
            raise ValueError("in the database only form=date is evaluated")
        lo, hi = _as_date(earliest) or MEIJI_FIRST, _as_date(latest)
        cond = column >= sa.literal(lo, sa.Date)
        if hi is not None:
            cond = sa.and_(cond, column <= sa.literal(hi, sa.Date))
        return cond


@_with_renderer
class ExpectColumnValuesToBeWithinEraRange(_Rendered, ColumnMapExpectation):
    """Dates within an era's range.

    ``form``: ``era_code`` — an era code + YYMMDD number as the mainframe stores 和暦 (``scheme``
    maps the codes to eras, default 1 明治 … 5 令和): the day must exist inside its era (昭和64年
    1月8日 does not) and after the calendar reform; ``allow_partial`` accepts 日不詳 / 月日不詳
    (day or month 00) inside the era. ``ymd`` — a Gregorian YYYYMMDD number. ``date`` — a date.
    Every form: not before ``earliest`` (default 明治元年, 1868-01-25) nor after ``latest``
    (the snapshot). ``allow_zero``: 0 means "no date" (e.g. a corporation's birth date).
    """

    TEMPLATE: ClassVar[str] = "a date ($form) inside its era, from 明治 to $latest"

    form: str = "date"
    scheme: Optional[Dict[str, str]] = None
    allow_partial: bool = True
    allow_zero: bool = False
    earliest: Optional[Union[str, dict]] = None
    latest: Optional[Union[str, dict]] = None
    map_metric = "column_values.ikou_within_era_range"
    success_keys = ("form", "scheme", "allow_partial", "allow_zero", "earliest", "latest", "mostly")
    args_keys = ("column", "form")
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


# ------------------------------------------------------------------------------ code lists


class ColumnValuesInCodeList(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_in_code_list"
    condition_value_keys = ("codes", "code_list")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, codes=None, code_list=None, **kwargs):
        data = _arrow(column)
        values = list(codes or [])
        if pa.types.is_integer(data.type):
            values = [int(v) for v in values if str(v).strip().lstrip("-").isdigit()]
            value_set = pa.array(values, pa.int64())
            data = pc.cast(data, pa.int64())
        else:
            value_set = pa.array([str(v) for v in values], pa.string())
            data = _as_text(data)
        return _series(pc.is_in(data, value_set=value_set), column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, codes=None, code_list=None, **kwargs):
        return column.in_([str(v) for v in codes or []])


@_with_renderer
class ExpectColumnValuesToBeInCodeList(_Rendered, ColumnMapExpectation):
    """Code values in a versioned code list. ``code_list`` names the list and its version
    (``layout juki 2.1 jumin.zokugara`` or ``copybook juki_juki.cpy ZOKUGARA 88``), ``codes``
    holds its values (public codes, never personal data)."""

    TEMPLATE: ClassVar[str] = "a code of the list $code_list: $codes"

    code_list: str
    codes: List[str]
    map_metric = "column_values.ikou_in_code_list"
    success_keys = ("codes", "code_list", "mostly")
    args_keys = ("column", "code_list", "codes")
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


# -------------------------------------------------------------------- referential integrity

_reference_sets: dict[tuple[str, str], pa.Array] = {}
_reference_lock = threading.Lock()


def register_reference_set(table: str, column: str, values: Iterable) -> None:
    """Make the ids of ``table.column`` (e.g. the 宛名 master's ``atena_no`` of the snapshot)
    known to the pandas implementation of the referential-integrity expectation. The set lives
    in this process only; the expectation's configuration names the table, never the ids."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.unique(pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr)
    with _reference_lock:
        _reference_sets[(table, column)] = arr


def forget_reference_sets() -> None:
    with _reference_lock:
        _reference_sets.clear()


def reference_set(table: str, column: str) -> pa.Array:
    try:
        return _reference_sets[(table, column)]
    except KeyError:
        raise LookupError(
            f"the ids of {table}.{column} were not registered for this gate "
            "(ikou.quality.expectations.register_reference_set)"
        ) from None


class ColumnValuesExistInAddresseeMaster(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_in_addressee_master"
    condition_value_keys = ("reference_table", "reference_column")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, reference_table=None, reference_column="atena_no", **kwargs):
        ids = reference_set(reference_table, reference_column)
        return _series(pc.is_in(_as_text(_arrow(column)), value_set=ids), column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, reference_table=None, reference_column="atena_no", **kwargs):
        # A correlated EXISTS, answered by the master's primary-key index row by row. (``IN
        # (SELECT …)`` inside GX's CASE aggregates becomes a SubPlan that PostgreSQL hashes only
        # when the master's ids fit in work_mem: a million 宛名番号 do not, and the scan per row
        # is quadratic.) The master's column is renamed so the bare column name can only mean
        # the outer row.
        master = (
            sa.select(sa.column(reference_column).label("ikou_ref"))
            .select_from(sa.table(reference_table))
            .subquery("ikou_master")
        )
        return sa.exists().where(master.c.ikou_ref == column)


@_with_renderer
class ExpectColumnValuesToExistInAddresseeMaster(_Rendered, ColumnMapExpectation):
    """Referential integrity: every 宛名番号 exists in the addressee (宛名) master of the same
    snapshot — residents, non-residents (住登外者) and corporations alike.
    ``reference_table``/``reference_column`` name the master (the standard table and column);
    in the database the check is a sub-query, for a stage output the gate registers the ids of
    the snapshot's validated master."""

    TEMPLATE: ClassVar[str] = (
        "every 宛名番号 exists in the addressee (宛名) master $reference_table"
    )

    reference_table: str
    reference_column: str = "atena_no"
    map_metric = "column_values.ikou_in_addressee_master"
    success_keys = ("reference_table", "reference_column", "mostly")
    args_keys = ("column", "reference_table", "reference_column")
    domain_keys: ClassVar[Tuple[str, ...]] = _COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB


# ------------------------------------------------------------------------------ layout type


def _pandas_type_ok(dtype, layout_type: str, precision: int | None, scale: int | None) -> bool:
    t = getattr(dtype, "pyarrow_dtype", None)
    if t is None:
        try:
            t = pa.from_numpy_dtype(dtype)
        except (TypeError, NotImplementedError, pa.ArrowNotImplementedError):
            return layout_type in ("string", "code") and str(dtype) in ("object", "string", "str")
    if layout_type in ("string", "code"):
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    if layout_type == "integer":
        return pa.types.is_integer(t)
    if layout_type == "decimal":
        if not pa.types.is_decimal(t):
            return False
        return (precision is None or t.precision == precision) and (
            scale is None or t.scale == scale
        )
    if layout_type == "date":
        return pa.types.is_date(t)
    return False


_SQL_NAMES = {
    "string": (
        "VARCHAR",
        "CHARACTER VARYING",
        "TEXT",
        "CHAR",
        "CHARACTER",
        "NVARCHAR",
        "NCHAR",
        "STRING",
    ),
    "integer": ("INTEGER", "BIGINT", "SMALLINT", "INT", "INT2", "INT4", "INT8"),
    "decimal": ("NUMERIC", "DECIMAL"),
    "date": ("DATE",),
}


def _sql_type_ok(
    type_, layout_type: str, precision: int | None, scale: int | None, dialect: str = ""
) -> bool:
    """The database's column type (a SQLAlchemy type, or its name as GX reflects it on PostgreSQL)
    against the layout type."""
    text = str(type_).strip().upper()
    m = re.match(r"^([A-Z0-9 ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?$", text)
    name, p, sc = (m.group(1).strip(), m.group(2), m.group(3)) if m else (text, None, None)
    kind = "string" if layout_type == "code" else layout_type
    if dialect == "sqlite" and kind in ("decimal", "date"):
        # SQLite has neither: Ikou's loader stores decimals and ISO dates as TEXT there
        return name in _SQL_NAMES["string"]
    if name not in _SQL_NAMES.get(kind, ()):
        return False
    if kind == "decimal" and p is not None:
        return (precision is None or int(p) == precision) and (
            scale is None or int(sc or 0) == scale
        )
    return True


@_with_renderer
class ExpectColumnToHaveLayoutType(_Rendered, BatchExpectation):
    """The column's physical type is the standard layout's type (``string`` / ``code`` text,
    ``integer``, ``decimal`` with ``precision`` and ``scale``, ``date``). The observed value is
    the type's name — never data."""

    TEMPLATE: ClassVar[str] = "of the standard layout's type $layout_type"

    column: str
    layout_type: str
    precision: Optional[int] = None
    scale: Optional[int] = None
    metric_dependencies = ("table.column_types",)
    success_keys = ("column", "layout_type", "precision", "scale")
    domain_keys: ClassVar[Tuple[str, ...]] = ("batch_id",)
    args_keys = ("column", "layout_type")
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIB

    def _validate(
        self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None
    ):
        column = self._get_success_kwarg("column")
        layout_type = self._get_success_kwarg("layout_type")
        precision, scale = self._get_success_kwarg("precision"), self._get_success_kwarg("scale")
        found = next((c for c in metrics["table.column_types"] if c.get("name") == column), None)
        if found is None:
            return {"success": False, "result": {"observed_value": "missing column"}}
        type_ = found.get("type")
        if isinstance(execution_engine, SqlAlchemyExecutionEngine):
            dialect = getattr(getattr(execution_engine, "engine", None), "dialect", None)
            ok = _sql_type_ok(type_, layout_type, precision, scale, getattr(dialect, "name", ""))
        else:
            ok = _pandas_type_ok(type_, layout_type, precision, scale)
        return {"success": bool(ok), "result": {"observed_value": str(type_)}}


CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeValidMyNumber,
    ExpectColumnValuesToBeValidCorporateNumber,
    ExpectColumnValuesToBeValidJuminhyoCode,
    ExpectColumnValuesToBeInStandardCharset,
    ExpectColumnValuesToHaveNoUnmappedGaiji,
    ExpectColumnValuesToBeKana,
    ExpectColumnValuesToBeWithinEraRange,
    ExpectColumnValuesToBeInCodeList,
    ExpectColumnValuesToExistInAddresseeMaster,
    ExpectColumnToHaveLayoutType,
)

__all__ = [c.__name__ for c in CUSTOM_EXPECTATIONS] + [
    "register_reference_set",
    "forget_reference_sets",
    "standard_charset",
    "in_standard_charset",
    "register_city_characters",
    "forget_city_characters",
    "is_unmapped_gaiji",
    "my_number_ok",
    "corporate_number_ok",
    "juminhyo_code_ok",
    "era_code_ok",
]
