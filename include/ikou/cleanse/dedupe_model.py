"""The 名寄せ model (splink on DuckDB): the comparisons and blocking rules, the shipped m and u
probabilities (``data/dedupe_model.json``), training, the prior, and the connected components of
linked pairs. :mod:`ikou.cleanse.dedupe` explains the model and runs it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ikou.cleanse.dedupe_keys import features
from ikou.errors import BadArgument, Unreadable

__all__ = [
    "MODEL_PATH",
    "TRAIN_MIN_RECORDS",
    "blocking_rules",
    "connected_components",
    "copy_m",
    "floor_m",
    "level_gammas",
    "load_model",
    "make_linker",
    "prior_probability",
    "quiet_splink",
    "settings_dict",
    "train",
]

MODEL_PATH = Path(__file__).with_name("data") / "dedupe_model.json"
#: --train estimates u by random sampling of record pairs: it needs some records to sample
TRAIN_MIN_RECORDS = 100


# -- the model ---------------------------------------------------------------------------------


def settings_dict() -> dict:
    """The splink settings: comparisons and blocking rules (no m/u: see the shipped model)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

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
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=1e-4,
    )
    return creator.create_settings_dict(sql_dialect_str="duckdb")


def blocking_rules() -> list:
    """The candidate pairs (blocking): every rule an equality of keys DuckDB joins by hash.

    A rule's pairs grow with the square of its blocks, and a block keyed by values the city does not
    multiply (birth dates, a name pool) grows with the city: birth date and sex alone made
    about 15 records a block at 1M residents and 50 at 3.8M (1.6·10⁸ pairs, four times the
    work per doubling). So birth date and sex block only with one more key the same person
    keeps — the name, or the kana, or the 町・丁目 — and name, kana and birth year only with the
    month or the day (a typo changes one of them) or when one of the two birth dates is
    partial (日不詳 / 月日不詳: a year, no ``birth_date``). A duplicate the old rules
    paired but these miss differs in name, kana and neighbourhood at once, or in both month and
    day: such a pair scored far below ``keep_pairs_above`` (no evidence left but the birth date
    or the name); the 名寄せ benchmark's recall and precision check it on the answer key.
    """
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    same = 'l."name_fold" = r."name_fold" AND l."kana_fold" = r."kana_fold"'
    year = 'l."birth_year" = r."birth_year"'
    return [
        block_on("birth_date", "sex", "name_fold"),
        block_on("birth_date", "sex", "kana_fold"),
        block_on("birth_date", "sex", "addr_area"),
        block_on("name_fold", "addr_key"),
        # birth_date is YYYYMMDD: the month, the day
        block_on("name_fold", "kana_fold", "birth_year", "substr(birth_date, 5, 2)"),
        block_on("name_fold", "kana_fold", "birth_year", "substr(birth_date, 7, 2)"),
        # a partial date has a year but no birth_date; the condition on one side only is pushed
        # below the join by DuckDB (partial records joined with their namesakes, not all pairs)
        CustomRule(f'{same} AND {year} AND l."birth_date" IS NULL'),
        CustomRule(f'{same} AND {year} AND r."birth_date" IS NULL'),
    ]


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


def make_linker(
    feats, model: dict, *, memory_limit: str | None = None, temp_directory: str | None = None
):
    """A splink linker of ``feats`` (pandas or Arrow) on a DuckDB connection of its own;
    ``memory_limit`` / ``temp_directory``: DuckDB's settings (None: DuckDB's defaults — a
    memory limit of 80 % of the machine's memory, which a task never reaches before the machine
    does, so DuckDB never spills)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    config = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_directory:
        config["temp_directory"] = str(temp_directory)
    db = DuckDBAPI(duckdb.connect(":memory:", config=config))
    sdf = db.register(feats, table_name="ikou_dedupe_input")
    # the candidate pairs are the code's (blocking_rules), not the saved model's: a model is its
    # m and u probabilities, and one saved before the rules changed must block as today
    model = dict(model)
    model["blocking_rules_to_generate_predictions"] = settings_dict()[
        "blocking_rules_to_generate_predictions"
    ]
    return Linker(sdf, model, log_level=None)


def quiet_splink():
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
    quiet_splink()
    feats = features_frame if features_frame is not None else features(records)
    if len(feats) < TRAIN_MIN_RECORDS:
        raise BadArgument(
            f"--train: {len(feats)} records are too few to estimate u "
            f"(at least {TRAIN_MIN_RECORDS}); leave --train out to use the shipped model"
        )
    if labels is not None:
        feats = feats.copy()
        root = connected_components([(str(a), str(b)) for a, b in labels])
        feats["truth_id"] = [root.get(x, x) for x in feats["unique_id"]]
    linker = make_linker(feats, settings_dict())
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    if labels is not None:
        linker.training.estimate_m_from_label_column("truth_id")
    model = linker.misc.save_model_to_json()
    if labels is None:
        copy_m(base_model or load_model(), model)
    floor_m(model, m_floor)
    model["probability_two_random_records_match"] = prior_probability(
        len(feats), expected_duplicate_rate
    )
    model.pop("linker_uid", None)
    return model


def copy_m(src: dict, dest: dict) -> None:
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


def floor_m(model: dict, floor: float) -> None:
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        ms = [max(floor, lv.get("m_probability") or 0.0) for lv in levels]
        total = sum(ms)
        for lv, m in zip(levels, ms):
            lv["m_probability"] = m / total


def prior_probability(n: int, rate: float) -> float:
    """P(two random records are one person) when ``rate`` of ``n`` records duplicate another."""
    if n < 2:
        return 1e-6
    return min(0.5, max(1e-12, 2.0 * rate / (n - 1)))


def level_gammas(model: dict, comparison: str, labels: tuple[str, ...]) -> list[int]:
    """The gamma values splink gives the named levels of a comparison (else = 0, counting up)."""
    comp = next(c for c in model["comparisons"] if c["output_column_name"] == comparison)
    levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
    n = len(levels)
    return [n - 1 - i for i, lv in enumerate(levels) if lv.get("label_for_charts") in labels]


def connected_components(edges) -> dict[str, str]:
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
