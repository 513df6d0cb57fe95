"""名寄せ: duplicate addressee records (the same person under several 宛名番号), with splink + DuckDB.

    ikou dedupe INPUT.parquet -o CLUSTERS.parquet

Input columns: ``atena_id`` (string or integer, unique, never empty), ``name`` (氏名),
``name_kana`` (氏名カナ), ``birth_date``, ``sex`` (``1`` male, ``2`` female; text or integer),
``address`` (free text as the legacy systems hold it). ``birth_date`` is exactly one of: a date,
an ISO date string ``YYYY-MM-DD``, ``YYYYMMDD`` as integer or text (the legacy files' form), a
datetime at midnight; ``YYYYMM00`` and ``YYYY0000`` (日不詳 / 月日不詳) are accepted but, like a
null, never count towards ``auto_merge``. Anything else — and a missing column, a column of
another type, an empty or repeated ``atena_id`` — is :class:`~ikou.errors.BadArgument` (exit 2)
naming the column and the first bad row (row 1 is the first record), never the value.
Output: every input record exactly once, in input order, with ``atena_id``, ``cluster_id``
(records that may be one person share it, whatever the decision; the smallest ``atena_id`` of
the cluster, so it is stable from run to run), ``match_score`` (the best pairwise match
probability of the record, 0 when it was compared with nothing) and ``decision``:
``auto_merge`` (merged automatically), ``review`` (a person decides) or ``distinct`` (alone).

How
---
*Comparison keys* (used only for comparing, never written back — names keep their exact
characters): the name without spaces, NFKC-folded (widths, compatibility ideographs), variation
selectors dropped and old forms folded to new (髙→高, 齋→斎, 邊→辺, 澤→沢 …: the same person is
written both ways over decades); the kana in full-width katakana with small kana, ヂ/ヅ/ヲ and
long vowels (コウ / コオ / コー) folded; the address numbering made canonical
(:func:`ikou.cleanse.rules.address_canonical`), the building dropped, ヶ/ケ/が and の/ノ folded;
its town with the digit runs of its numbering; its 町・丁目 part.

*Blocking* (candidate pairs; no all-pairs loop): same birth date and sex; same name and address;
same name, kana and birth year. A duplicate that differs in all of those at once is not found
(e.g. a moved person whose birth date is unknown: only name and kana agree, and blocking on
those alone pairs every namesake of a city).

*Model* (Fellegi–Sunter, splink 5 on DuckDB): a comparison of name and kana together (they are
not independent: scoring them separately counts one piece of evidence twice), birth date, sex
and address; term-frequency adjustment on the name (a common name agreeing is weaker evidence
than a rare one). The m and u probabilities ship in ``data/dedupe_model.json``, trained by
``ikou train-dedupe`` (development package ``ikou_dev``) on a synthetic training city of another seed than the
benchmark's: u by random sampling (2·10⁷ pairs; no labels needed), m from the labelled duplicate
pairs of its answer key, each m floored at 0.001 (a level never seen among the labelled pairs —
a birth date one digit off, in a city without typos — still happens in real data). EM was tried
and rejected: with the synthetic city's small name pool the blocked pairs are dominated by
household namesakes and EM converged on "same household" instead of "same person" (m of an
exact birth date 0.001). For a real city: ``--train`` re-estimates u on its own data (keeping
m), the reviewers' ``merge`` decisions are labelled pairs for m (:func:`train` takes them); keep
the model with ``--save-model``. The prior (probability that two random records are the same
person) follows from the expected share of duplicate records (default 2 %), so scores stay
comparable between a 300-record test and a million-record city; it also means that the same
evidence scores lower in a bigger city, where namesakes are more frequent.

*Thresholds* (match probability): ``auto_merge`` 0.999 and ``review`` 0.2. On the training city
the true duplicates score either above 0.999 (address agrees) or 0.5–0.99 (moved: the old
address), and almost nothing true scores below 0.2; in a million-record city the moved ones
drift down to 0.3–0.9 (lower prior), hence 0.2, not 0.5.

*Decisions*: pairs at or above ``review`` (match probability) link records into clusters
(connected components). A cluster is ``auto_merge`` only when every one of its records is linked
by pairs at or above ``auto_merge`` whose birth dates agree and whose addresses corroborate (the
same address, or the same town and block numbers however they are written), and it has at most
``max_auto_cluster`` records; otherwise the whole cluster goes to ``review``. Identical name,
kana, birth date and sex at another address is what a moved person and a namesake both look
like; the same name at the same address without a birth date is also a parent and a child of
one name: never merged automatically, whatever the score.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ikou.errors import BadArgument, Unreadable
from ikou.pipeline import check_thresholds

INPUT_COLUMNS = ("atena_id", "name", "name_kana", "birth_date", "sex", "address")
OUTPUT_COLUMNS = ("atena_id", "cluster_id", "match_score", "decision")
DECISIONS = ("auto_merge", "review", "distinct")
MODEL_PATH = Path(__file__).with_name("data") / "dedupe_model.json"
#: --train estimates u by random sampling of record pairs: it needs some records to sample
TRAIN_MIN_RECORDS = 100

log = logging.getLogger(__name__)

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


def features(records) -> "pd.DataFrame":  # noqa: F821
    """The frame splink compares: ``unique_id`` (= atena_id) and the comparison keys."""
    import pandas as pd

    table, ids = check_input(records)
    names = _text_column(table, "name")
    kanas = _text_column(table, "name_kana")
    addresses = _text_column(table, "address")
    sexes = _text_column(table, "sex", integers=True)
    birth, years = birth_date_keys(table.column("birth_date"))

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

    addr = cached(address_keys, addresses)
    name_fold = cached(name_key, names)
    kana_fold = cached(kana_key, kanas)
    out = pd.DataFrame(
        {
            "unique_id": ids,
            "name_fold": name_fold,
            "kana_fold": kana_fold,
            "name_kana_key": [
                f"{a}|{b}" if a and b else None for a, b in zip(name_fold, kana_fold)
            ],
            "birth_date": birth,
            "birth_year": years,
            "sex": [s.strip() if s and s.strip() in ("1", "2") else None for s in sexes],
            "addr_key": [a[0] if a else None for a in addr],
            "addr_numbers": [a[1] if a else None for a in addr],
            "addr_area": [a[2] if a else None for a in addr],
        }
    )
    return out


# -- the model ---------------------------------------------------------------------------------


def settings_dict() -> dict:
    """The splink settings: comparisons and blocking rules (no m/u: see the shipped model)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def level(sql: str, label: str, tf: str | None = None) -> dict:
        d = {"sql_condition": sql, "label_for_charts": label}
        if tf:
            d.update({"tf_adjustment_column": tf, "tf_adjustment_weight": 1.0})
        return d

    jw = "jaro_winkler_similarity"
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="氏名 and 氏名カナ together (comparison keys)",
        comparison_levels=[
            cll.Or(cll.NullLevel("name_fold"), cll.NullLevel("kana_fold")),
            cll.ExactMatchLevel("name_kana_key", term_frequency_adjustments=True),
            level(
                f'"name_fold_l" = "name_fold_r" AND {jw}("kana_fold_l", "kana_fold_r") >= 0.88',
                "name equal, kana close",
            ),
            level(
                f'"kana_fold_l" = "kana_fold_r" AND {jw}("name_fold_l", "name_fold_r") >= 0.85',
                "kana equal, name close",
            ),
            level(
                '"name_fold_l" = "name_fold_r" OR "kana_fold_l" = "kana_fold_r"',
                "name or kana equal",
            ),
            level(
                f'{jw}("name_fold_l", "name_fold_r") >= 0.85 AND {jw}("kana_fold_l", "kana_fold_r") >= 0.85',
                "both close",
            ),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            level(
                'damerau_levenshtein("birth_date_l", "birth_date_r") <= 1',
                "one digit off or swapped",
            ),
            cll.ElseLevel(),
        ],
    )
    sex = cl.ExactMatch("sex")
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("addr_key"),
            cll.ExactMatchLevel("addr_key"),
            cll.ExactMatchLevel("addr_numbers"),
            cll.ExactMatchLevel("addr_area"),
            cll.ElseLevel(),
        ],
    )
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[name, birth, sex, address],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "sex"),
            block_on("name_fold", "addr_key"),
            block_on("name_fold", "kana_fold", "birth_year"),
        ],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=1e-4,
    )
    return creator.create_settings_dict(sql_dialect_str="duckdb")


@dataclass
class DedupeConfig:
    auto_merge: float = (
        0.999  # match probability at or above which a pair may be merged automatically
    )
    review: float = (
        0.2  # match probability at or above which a pair is a candidate (cluster, review)
    )
    max_auto_cluster: int = 3  # larger clusters always go to review
    expected_duplicate_rate: float = (
        0.02  # share of records that duplicate another (sets the prior)
    )
    population: int | None = (
        None  # records of the whole population, when deduping a part of it (prior)
    )
    model: str | Path | None = None  # a splink model JSON (default: the shipped one)
    train: bool = (
        False  # re-estimate u on this input (random sampling); m stays the shipped model's
    )
    seed: int = 42
    keep_pairs_above: float = 0.01  # pairs below this probability are not kept (match_score floor)

    def __post_init__(self):
        check_thresholds(self.review, self.auto_merge)
        if isinstance(self.max_auto_cluster, bool) or not self.max_auto_cluster >= 1:
            raise BadArgument("--max-auto-cluster: at least 1 (records of an automatic merge)")
        if not 0 < self.expected_duplicate_rate < 1:
            raise BadArgument("--duplicate-rate: a share between 0 and 1 (exclusive)")
        if self.population is not None and not self.population >= 1:
            raise BadArgument("--population: at least 1 (records of the whole population)")
        if not 0 <= self.keep_pairs_above <= self.review:
            raise BadArgument("keep_pairs_above: between 0 and --review")


@dataclass
class DedupeResult:
    clusters: object  # pyarrow Table: OUTPUT_COLUMNS, input order
    pairs: object  # pandas DataFrame: unique_id_l, unique_id_r, match_probability, gamma_* (>= keep floor)
    stats: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


def load_model(path: str | Path | None = None) -> dict:
    """A splink model (settings with m and u); Ikou's own notes (key ``ikou``) are left out."""
    p = Path(path) if path else MODEL_PATH
    try:
        model = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Unreadable(f"--model {p}: no such file") from None
    except OSError as exc:
        raise Unreadable(f"--model {p}: {exc.strerror or type(exc).__name__}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadArgument(f"--model {p}: not a splink model (JSON)") from None
    if not isinstance(model, dict) or not isinstance(model.get("comparisons"), list):
        raise BadArgument(f"--model {p}: not a splink model (no comparisons)")
    model.pop("ikou", None)
    return model


def _linker(feats, model: dict):
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    sdf = db.register(feats, table_name="ikou_dedupe_input")
    return Linker(sdf, model, log_level=None)


def _quiet():
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


def train(
    records,
    *,
    labels=None,
    seed: int = 42,
    max_pairs: float = 2e7,
    m_floor: float = 1e-3,
    expected_duplicate_rate: float = 0.02,
    features_frame=None,
    base_model: dict | None = None,
) -> dict:
    """Estimate a model on ``records``: u by random sampling (unsupervised); m from ``labels``
    (pairs of atena_ids known to be one person — a training city's answer key, or reviewers'
    ``merge`` decisions) when given, else kept from ``base_model`` (default: the shipped model).
    Every m is floored at ``m_floor`` (then renormalised)."""
    _quiet()
    feats = features_frame if features_frame is not None else features(records)
    if len(feats) < TRAIN_MIN_RECORDS:
        raise BadArgument(
            f"--train: {len(feats)} records are too few to estimate u "
            f"(at least {TRAIN_MIN_RECORDS}); leave --train out to use the shipped model"
        )
    if labels is not None:
        feats = feats.copy()
        root = _components([(str(a), str(b)) for a, b in labels])
        feats["truth_id"] = [root.get(x, x) for x in feats["unique_id"]]
    linker = _linker(feats, settings_dict())
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    if labels is not None:
        linker.training.estimate_m_from_label_column("truth_id")
    model = linker.misc.save_model_to_json()
    if labels is None:
        _copy_m(base_model or load_model(), model)
    _floor_m(model, m_floor)
    model["probability_two_random_records_match"] = _prior(len(feats), expected_duplicate_rate)
    model.pop("linker_uid", None)
    return model


def _copy_m(src: dict, dest: dict) -> None:
    by_label = {
        (c["output_column_name"], lv.get("label_for_charts")): lv.get("m_probability")
        for c in src["comparisons"]
        for lv in c["comparison_levels"]
    }
    for c in dest["comparisons"]:
        for lv in c["comparison_levels"]:
            m = by_label.get((c["output_column_name"], lv.get("label_for_charts")))
            if m is not None and not lv.get("is_null_level"):
                lv["m_probability"] = m


def _floor_m(model: dict, floor: float) -> None:
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        ms = [max(floor, lv.get("m_probability") or 0.0) for lv in levels]
        total = sum(ms)
        for lv, m in zip(levels, ms):
            lv["m_probability"] = m / total


def _prior(n: int, rate: float) -> float:
    """P(two random records are one person) when ``rate`` of ``n`` records duplicate another."""
    if n < 2:
        return 1e-6
    return min(0.5, max(1e-12, 2.0 * rate / (n - 1)))


def _gammas(model: dict, comparison: str, labels: tuple[str, ...]) -> list[int]:
    """The gamma values splink gives the named levels of a comparison (else = 0, counting up)."""
    comp = next(c for c in model["comparisons"] if c["output_column_name"] == comparison)
    levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
    n = len(levels)
    return [n - 1 - i for i, lv in enumerate(levels) if lv.get("label_for_charts") in labels]


def _components(edges) -> dict[str, str]:
    """Connected components: record -> smallest id of its component (records on an edge only)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    nodes: set[str] = set()
    for a, b in edges:
        nodes.update((a, b))
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {x: find(x) for x in nodes}


def dedupe(records, config: DedupeConfig | None = None) -> DedupeResult:
    """Cluster the records (see the module docstring); every input record appears once in the output."""
    import pandas as pd
    import pyarrow as pa

    cfg = config or DedupeConfig()
    _quiet()
    t0 = time.monotonic()
    feats = features(records)
    n = len(feats)
    stats: dict = {"records": n}
    t1 = time.monotonic()
    if cfg.train:
        model = train(
            None,
            seed=cfg.seed,
            expected_duplicate_rate=cfg.expected_duplicate_rate,
            features_frame=feats,
        )
    else:
        model = load_model(cfg.model)
        model["probability_two_random_records_match"] = _prior(
            max(n, cfg.population or 0), cfg.expected_duplicate_rate
        )
    stats["prior"] = model["probability_two_random_records_match"]
    t2 = time.monotonic()
    if n >= 2:
        linker = _linker(feats, model)
        pred = linker.inference.predict(
            threshold_match_probability=cfg.keep_pairs_above
        ).as_pandas_dataframe()
    else:
        pred = pd.DataFrame(
            columns=["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        )
    t3 = time.monotonic()
    pred = pred.astype({"unique_id_l": str, "unique_id_r": str})
    ids = feats["unique_id"].tolist()
    best = pd.concat(
        [
            pred[["unique_id_l", "match_probability"]].rename(columns={"unique_id_l": "id"}),
            pred[["unique_id_r", "match_probability"]].rename(columns={"unique_id_r": "id"}),
        ]
    )
    best = best.groupby("id")["match_probability"].max().to_dict() if len(best) else {}
    links = pred[pred["match_probability"] >= cfg.review]
    comp = _components(list(zip(links["unique_id_l"], links["unique_id_r"])))
    # an automatic merge also needs the address to corroborate: identical name, kana, birth date and
    # sex at another address is what both a moved person and a namesake look like (review)
    # and the birth date to agree: a record whose birth date is unknown is also its namesake
    # parent's or child's record at the same address
    corroborating = _gammas(
        model, "address", ("Exact match on addr_key", "Exact match on addr_numbers")
    )
    born = _gammas(model, "birth_date", ("Exact match on birth_date",))
    strong = (
        links[
            (links["match_probability"] >= cfg.auto_merge)
            & links["gamma_address"].isin(corroborating)
            & links["gamma_birth_date"].isin(born)
        ]
        if len(links)
        else links
    )
    strong_comp = _components(list(zip(strong["unique_id_l"], strong["unique_id_r"])))
    members: dict[str, list[str]] = {}
    for x, c in comp.items():
        members.setdefault(c, []).append(x)
    cluster_decision: dict[str, str] = {}
    for c, xs in members.items():
        auto = (
            len(xs) <= cfg.max_auto_cluster
            and len({strong_comp.get(x) for x in xs}) == 1
            and strong_comp.get(xs[0]) is not None
        )
        cluster_decision[c] = "auto_merge" if auto else "review"
    cluster_id = [comp.get(x, x) for x in ids]
    decision = [cluster_decision[comp[x]] if x in comp else "distinct" for x in ids]
    score = [float(best.get(x, 0.0)) for x in ids]
    clusters = pa.table(
        {
            "atena_id": pa.array(ids, pa.string()),
            "cluster_id": pa.array(cluster_id, pa.string()),
            "match_score": pa.array(score, pa.float64()),
            "decision": pa.array(decision, pa.string()),
        }
    )
    stats.update(
        {
            "candidate_pairs_kept": int(len(pred)),
            "linked_pairs": int(len(links)),
            "auto_pairs": int(len(strong)),
            "clusters": len(members),
            "auto_merge_clusters": sum(1 for d in cluster_decision.values() if d == "auto_merge"),
            "review_clusters": sum(1 for d in cluster_decision.values() if d == "review"),
            "records_auto_merge": decision.count("auto_merge"),
            "records_review": decision.count("review"),
            "records_distinct": decision.count("distinct"),
            "seconds": {
                "features": round(t1 - t0, 2),
                "model": round(t2 - t1, 2),
                "predict": round(t3 - t2, 2),
                "cluster": round(time.monotonic() - t3, 2),
                "total": round(time.monotonic() - t0, 2),
            },
            "thresholds": {
                "auto_merge": cfg.auto_merge,
                "review": cfg.review,
                "max_auto_cluster": cfg.max_auto_cluster,
            },
        }
    )
    return DedupeResult(clusters, pred, stats, model)


# -- evaluation against an answer key ----------------------------------------------------------


def evaluate(clusters, truth_pairs) -> dict:
    """Precision of auto-merges and recall of true duplicate pairs (auto + review).

    ``truth_pairs``: iterable of (atena_id, duplicate_of). A true pair counts as found when both
    records share a cluster; auto-merge precision is over the pairs of records that share an
    ``auto_merge`` cluster (a cluster of k records makes k·(k-1)/2 pairs).
    """
    import itertools

    t = clusters.to_pydict() if hasattr(clusters, "to_pydict") else clusters
    cid = dict(zip(t["atena_id"], t["cluster_id"]))
    dec = dict(zip(t["atena_id"], t["decision"]))
    truth = [(str(a), str(b)) for a, b in truth_pairs]
    groups: dict[str, list[str]] = {}
    for x, root in _components(truth).items():
        groups.setdefault(root, []).append(x)
    # k duplicates of one original: every pair of the group is a true pair
    true_pairs = {p for g in groups.values() for p in itertools.combinations(sorted(g), 2)}
    found = sum(
        1
        for a, b in true_pairs
        if a in cid and cid.get(a) == cid.get(b) and dec.get(a) != "distinct"
    )
    found_auto = sum(
        1 for a, b in true_pairs if cid.get(a) == cid.get(b) and dec.get(a) == "auto_merge"
    )
    auto_members: dict[str, list[str]] = {}
    for x, c in cid.items():
        if dec[x] == "auto_merge":
            auto_members.setdefault(c, []).append(x)
    auto_pairs = [
        tuple(sorted(p))
        for xs in auto_members.values()
        for p in itertools.combinations(sorted(xs), 2)
    ]
    auto_true = sum(1 for p in auto_pairs if p in true_pairs)
    review_members: dict[str, list[str]] = {}
    for x, c in cid.items():
        if dec[x] == "review":
            review_members.setdefault(c, []).append(x)
    review_pairs = [
        tuple(sorted(p))
        for xs in review_members.values()
        for p in itertools.combinations(sorted(xs), 2)
    ]
    return {
        "true_pairs": len(true_pairs),
        "found_pairs": found,
        "recall": round(found / len(true_pairs), 4) if true_pairs else None,
        "auto_pairs": len(auto_pairs),
        "auto_true_pairs": auto_true,
        "auto_precision": round(auto_true / len(auto_pairs), 4) if auto_pairs else None,
        "auto_recall": round(found_auto / len(true_pairs), 4) if true_pairs else None,
        "review_pairs": len(review_pairs),
        "review_true_pairs": sum(1 for p in review_pairs if p in true_pairs),
    }


# -- command line -------------------------------------------------------------------------------


def run_file(
    input_path, output_path, config: DedupeConfig | None = None, save_model: str | None = None
) -> dict:
    """``ikou dedupe``: read INPUT.parquet, write CLUSTERS.parquet (atomically); returns stats."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    inp, out = Path(input_path), Path(output_path)
    if not str(output_path).strip() or out.is_dir():
        raise BadArgument(f"-o {out}: expected a file name for CLUSTERS.parquet")
    if inp.exists() and out.exists() and out.resolve() == inp.resolve():
        raise BadArgument("-o: the output must not be the input (it would be overwritten)")
    if save_model and Path(save_model).resolve() in (inp.resolve(), out.resolve()):
        raise BadArgument("--save-model: must not be the input or the output")
    if not inp.is_file():
        what = "is a directory" if inp.is_dir() else "no such file"
        raise Unreadable(f"cannot read {inp}: {what}")
    if save_model and not Path(save_model).resolve().parent.is_dir():
        raise Unreadable(f"cannot write --save-model {save_model}: no such folder")
    try:
        table = pq.read_table(inp)
    except OSError as exc:
        if isinstance(exc, pa.ArrowException):
            raise Unreadable(f"{inp}: not a readable Parquet file") from None
        raise Unreadable(f"cannot read {inp}: {exc.strerror or type(exc).__name__}") from None
    except pa.ArrowException:
        raise Unreadable(f"{inp}: not a readable Parquet file") from None
    res = dedupe(table, config)
    tmp = out.with_name(out.name + ".part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(res.clusters, tmp, compression="zstd")
        os.replace(tmp, out)
        if save_model:
            Path(save_model).write_text(
                json.dumps(res.model, ensure_ascii=False, indent=2), encoding="utf-8"
            )
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        where = getattr(exc, "filename", None) or out
        raise Unreadable(f"cannot write {where}: {exc.strerror or type(exc).__name__}") from None
    return res.stats


def main(args) -> int:
    cfg = DedupeConfig(
        auto_merge=args.auto_merge,
        review=args.review,
        max_auto_cluster=args.max_auto_cluster,
        expected_duplicate_rate=args.duplicate_rate,
        model=args.model,
        train=args.train,
        population=getattr(args, "population", None),
    )
    stats = run_file(args.input, args.output, cfg, save_model=args.save_model)
    print(json.dumps(stats, ensure_ascii=False, indent=2))
    return 0
