"""The 名寄せ input, checked, and its comparison keys: what :mod:`ikou.cleanse.dedupe` compares
(folded names and kana, canonical addresses, birth dates in their accepted forms) and the frame
splink reads (:func:`features`). The rules are described in :mod:`ikou.cleanse.dedupe`."""

from __future__ import annotations

import re
import unicodedata

from ikou.errors import BadArgument

INPUT_COLUMNS = ("atena_id", "name", "name_kana", "birth_date", "sex", "address")


# -- comparison keys ----------------------------------------------------------------------------

#: old (旧字) and variant forms → the common form, for comparing names only
OLD_NEW = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "㟢": "崎",
    "齋": "斎",
    "齊": "斉",
    "邊": "辺",
    "邉": "辺",
    "澤": "沢",
    "濱": "浜",
    "濵": "浜",
    "廣": "広",
    "櫻": "桜",
    "嶋": "島",
    "嶌": "島",
    "國": "国",
    "圓": "円",
    "眞": "真",
    "實": "実",
    "惠": "恵",
    "榮": "栄",
    "龍": "竜",
    "德": "徳",
    "藏": "蔵",
    "壽": "寿",
    "與": "与",
    "淺": "浅",
    "瀨": "瀬",
    "冨": "富",
    "槇": "槙",
    "峯": "峰",
    "鐵": "鉄",
    "會": "会",
    "學": "学",
    "團": "団",
    "靜": "静",
    "彌": "弥",
    "禮": "礼",
    "條": "条",
    "豐": "豊",
    "曻": "昇",
    "桒": "桑",
    "舘": "館",
    "萬": "万",
    "嶽": "岳",
    "塚": "塚",
    "﨔": "欅",
    "栁": "柳",
    "莊": "荘",
    "傳": "伝",
    "兒": "児",
    "驛": "駅",
    "鷗": "鴎",
    "祐": "祐",
    "神": "神",
    "福": "福",
    "黑": "黒",
    "增": "増",
    "惡": "悪",
    "戶": "戸",
    "繪": "絵",
    "緖": "緒",
    "溫": "温",
}
_OLD_NEW = str.maketrans(OLD_NEW)
_SPACE = re.compile(r"[\s\u3000]+")
_VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶヂヅヲヴ", "アイウエオツヤユヨワカケジズオブ")
_LONG = re.compile(r"(?<=[オコソトノホモヨロゴゾドボポ])[ウオ]|(?<=[ウクスツヌフムユルグズブプ])ウ")
_ADDR_FOLD = str.maketrans({"ヶ": "ケ", "が": "ケ", "ガ": "ケ", "ヵ": "ケ", "の": "ノ", "之": "ノ"})
_DIGIT = re.compile(r"[0-9]")


def name_key(name: str | None) -> str | None:
    """The comparison key of a name (氏名): never written back anywhere."""
    if not name:
        return None
    s = _VS.sub("", name)
    s = unicodedata.normalize("NFKC", s)  # only for comparing: widths, compatibility ideographs
    s = _SPACE.sub("", s).translate(_OLD_NEW)
    return s or None


def kana_key(kana: str | None) -> str | None:
    if not kana:
        return None
    from ikou.cleanse.rules import kana_fullwidth

    s = _SPACE.sub("", kana_fullwidth(kana)).translate(_SMALL)
    s = _LONG.sub("ー", s)
    return s or None


def address_keys(address: str | None) -> tuple[str | None, str | None, str | None]:
    """(address without building, its 町 with the block numbers, its 町・丁目 part) as comparison keys.

    The second key is the town (everything before the first digit) and the digit runs of the
    numbering: ``架空市南区寿町2丁目5番19号`` and ``架空市南区寿町２〓５〓１９`` (a separator lost to an
    unmapped character) both give ``架空市南区寿町|2-5-19``."""
    if not address:
        return None, None, None
    from ikou.cleanse.rules import address_canonical

    s = address_canonical(address)
    s = re.split(r"[ \u3000]", s.strip(), maxsplit=1)[0]
    s = unicodedata.normalize("NFKC", s).translate(_ADDR_FOLD)
    s = re.sub(r"^.{1,4}?[都道府県](?=.+?[市町村])", "", s)  # a prefecture written or not
    town = re.match(r"(.*?)(?=\d)", s)
    numbers = (
        (town.group(1) + "|" + "-".join(re.findall(r"\d+", s))) if town and town.group(1) else None
    )
    m = re.match(r"(.*?\d+丁目)", s) or town
    area = m.group(1) if m and m.group(1) else None
    return s or None, numbers, area


BIRTH_DATE_FORMS = (
    "a date, YYYY-MM-DD text, YYYYMMDD as integer or text (YYYYMM00 / YYYY0000 for 日不詳 / "
    "月日不詳), or a datetime at midnight"
)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_YMD = re.compile(r"(\d{4})(\d{2})(\d{2})")
_BAD = object()  # a value that is not a birth date


def _birth_text(y: int, m: int, d: int, partial_ok: bool):
    """(key, year) of a birth date given as numbers; key None for 日不詳 / 月日不詳; _BAD if not."""
    import datetime as dt

    if y < 1:
        return _BAD
    if partial_ok and d == 0 and (m == 0 or 1 <= m <= 12):
        return None, y
    try:
        dt.date(y, m, d)
    except ValueError:
        return _BAD
    return f"{y:04d}{m:02d}{d:02d}", y


def _birth_value(v):
    """One birth date value as (key YYYYMMDD or None, year or None), or _BAD."""
    import datetime as dt
    import math

    if v is None:
        return None, None
    if isinstance(v, bool):
        return _BAD
    if isinstance(v, dt.datetime):  # a pandas Timestamp is one
        if (v.hour, v.minute, v.second, v.microsecond) != (0, 0, 0, 0) or getattr(
            v, "nanosecond", 0
        ):
            return _BAD
        return _birth_text(v.year, v.month, v.day, False)
    if isinstance(v, dt.date):
        return _birth_text(v.year, v.month, v.day, False)
    if isinstance(v, float):
        if math.isnan(v):
            return None, None
        if not v.is_integer():
            return _BAD
        v = int(v)
    if isinstance(v, int):
        if not 10_000_000 <= v <= 99_999_999:
            return _BAD
        return _birth_text(v // 10000, v // 100 % 100, v % 100, True)
    if isinstance(v, str):
        t = v.strip()
        if not t:
            return None, None
        m = _ISO.fullmatch(t)
        if m:
            return _birth_text(int(m[1]), int(m[2]), int(m[3]), False)
        m = _YMD.fullmatch(t)
        if m:
            return _birth_text(int(m[1]), int(m[2]), int(m[3]), True)
        return _BAD
    return _BAD


def _is_missing(v) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd

        return v is pd.NaT or v is pd.NA
    except ImportError:  # pragma: no cover
        return False


def birth_date_keys(values, column: str = "birth_date") -> tuple[list, list]:
    """The comparison key (``YYYYMMDD``) and birth year of every value (see the module
    docstring for the forms accepted). 日不詳 / 月日不詳 and nulls have no key (they never
    count towards ``auto_merge``); 月日不詳 and 日不詳 keep their year (blocking). Anything else
    is :class:`BadArgument` naming ``column`` and the first bad row, never the value.

    Each distinct value is parsed once (a city has far fewer birth dates than residents)."""
    import math

    import pyarrow as pa

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        t = values.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if not (
            pa.types.is_null(t)
            or pa.types.is_date(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
        ):
            raise BadArgument(
                f"{column}: type {t} is not a birth date (expected {BIRTH_DATE_FORMS})"
            )
        values = values.to_pylist()  # plain Python: no Arrow compute threads before a fork
    parsed: dict = {}
    keys: list = []
    years: list = []
    bad_rows = 0
    first_bad = 0
    for i, v in enumerate(values):
        if _is_missing(v) or (isinstance(v, float) and math.isnan(v)):
            keys.append(None)
            years.append(None)
            continue
        k = (type(v), v)
        p = parsed.get(k)
        if p is None:
            p = parsed[k] = _birth_value(v)
        if p is _BAD:
            bad_rows += 1
            first_bad = first_bad or i + 1
            continue
        keys.append(p[0])
        years.append(p[1])
    if bad_rows:
        raise BadArgument(
            f"{column}: row {first_bad} is not a birth date ({bad_rows} such row"
            f"{'s' if bad_rows != 1 else ''}); expected {BIRTH_DATE_FORMS}"
        )
    return keys, years


def _as_table(records):
    """The input as an Arrow table (a pandas frame is converted)."""
    import pyarrow as pa

    if isinstance(records, pa.Table):
        return records
    try:
        return pa.Table.from_pandas(records, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise BadArgument(
            f"the dedupe input cannot be read as a table ({type(exc).__name__}): "
            f"columns {', '.join(INPUT_COLUMNS)} of one type each"
        ) from None


def _text_column(table, name: str, *, integers: bool = False) -> list:
    """A text column as Python values (integers as text when allowed); another type is exit 2."""
    import pyarrow as pa

    col = table.column(name)
    t = col.type
    if pa.types.is_dictionary(t):
        t = t.value_type  # to_pylist() decodes it
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return col.to_pylist()
    if integers and pa.types.is_integer(t):
        return [None if v is None else str(v) for v in col.to_pylist()]
    allowed = "text or integer" if integers else "text"
    raise BadArgument(f"{name}: type {t}; expected {allowed}")


def check_input(records):
    """The dedupe input as an Arrow table, checked: required columns and their types, every
    ``atena_id`` present and unique. Returns (table, atena ids as text)."""
    table = _as_table(records)
    missing = [c for c in INPUT_COLUMNS if c not in table.column_names]
    if missing:
        raise BadArgument(
            f"the dedupe input lacks columns {missing} (needs {', '.join(INPUT_COLUMNS)})"
        )
    ids = _text_column(table, "atena_id", integers=True)
    for i, v in enumerate(ids):
        if v is None or not str(v).strip():
            raise BadArgument(f"atena_id: row {i + 1} is empty (every record needs its 宛名番号)")
    seen: dict[str, int] = {}
    repeated = 0
    first_repeat = None
    for i, v in enumerate(ids):
        if v in seen:
            repeated += 1
            if first_repeat is None:
                first_repeat = i + 1
        else:
            seen[v] = i
    if repeated:
        raise BadArgument(
            f"atena_id must be unique ({repeated} repeated; the first at row {first_repeat})"
        )
    return table, ids


def feature_table(records) -> "pa.Table":  # noqa: F821
    """The table splink compares: ``unique_id`` (= atena_id) and the comparison keys, as Arrow
    columns (DuckDB scans them in place; a frame of Python strings was a third of the 名寄せ's
    memory). Each key column is built from its input column and made Arrow before the next:
    the Python values of one column at a time, never of all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table, ids = check_input(records)
    cols = {"unique_id": pa.array(ids, pa.string())}
    del ids

    def cached(fn, values):
        cache: dict = {}
        out = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            r = cache.get(v)
            if r is None and v not in cache:
                r = cache[v] = fn(v)
            out.append(r)
        return out

    cols["name_fold"] = pa.array(cached(name_key, _text_column(table, "name")), pa.string())
    cols["kana_fold"] = pa.array(cached(kana_key, _text_column(table, "name_kana")), pa.string())
    # null when either is (the keys are never empty: name_key / kana_key give None instead)
    cols["name_kana_key"] = pc.binary_join_element_wise(cols["name_fold"], cols["kana_fold"], "|")
    birth, years = birth_date_keys(table.column("birth_date"))
    cols["birth_date"] = pa.array(birth, pa.string())
    cols["birth_year"] = pa.array(years, pa.int64())
    del birth, years
    sexes = _text_column(table, "sex", integers=True)
    cols["sex"] = pa.array(
        [s.strip() if s and s.strip() in ("1", "2") else None for s in sexes], pa.string()
    )
    del sexes
    addr = cached(address_keys, _text_column(table, "address"))
    for i, name in enumerate(("addr_key", "addr_numbers", "addr_area")):
        cols[name] = pa.array([a[i] if a else None for a in addr], pa.string())
    return pa.table(cols)


def features(records) -> "pd.DataFrame":  # noqa: F821
    """:func:`feature_table` as a pandas frame (training adds its label column to it)."""
    return feature_table(records).to_pandas()
