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

*Blocking* (candidate pairs; no all-pairs loop; :func:`ikou.cleanse.dedupe_model.blocking_rules`):
same birth date and sex with the same name, or kana, or 町・丁目; same name and address; same
name and kana with the same birth year and month, or year and day, or a year beside a partial
date. No block grows with the city alone (birth date and sex by themselves did: the pairs grew
with the square of the city). A duplicate that differs in all of those at once is not found
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

The input checks and comparison keys are :mod:`ikou.cleanse.dedupe_keys`; the splink settings,
the shipped model and training :mod:`ikou.cleanse.dedupe_model`; this module decides, clusters,
evaluates and is the command.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ikou.cleanse.dedupe_keys import feature_table
from ikou.cleanse.dedupe_model import (
    connected_components,
    level_gammas,
    load_model,
    make_linker,
    prior_probability,
    quiet_splink,
    train,
)
from ikou.errors import BadArgument, Unreadable
from ikou.pipeline import check_thresholds

OUTPUT_COLUMNS = ("atena_id", "cluster_id", "match_score", "decision")
DECISIONS = ("auto_merge", "review", "distinct")

log = logging.getLogger(__name__)


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
    #: DuckDB's memory_limit for the candidate pairs ("2GB", "25%" of the machine's memory;
    #: None: DuckDB's default, 80 %); beyond it DuckDB spills to ``temp_directory``
    memory_limit: str | None = None
    temp_directory: str | None = None  # where DuckDB spills (None: DuckDB's default)

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


def dedupe(records, config: DedupeConfig | None = None) -> DedupeResult:
    """Cluster the records (see the module docstring); every input record appears once in the output."""
    import pandas as pd
    import pyarrow as pa

    cfg = config or DedupeConfig()
    quiet_splink()
    t0 = time.monotonic()
    feats = feature_table(records)
    n = feats.num_rows
    stats: dict = {"records": n}
    t1 = time.monotonic()
    if cfg.train:
        model = train(
            None,
            seed=cfg.seed,
            expected_duplicate_rate=cfg.expected_duplicate_rate,
            features_frame=feats.to_pandas(),
        )
    else:
        model = load_model(cfg.model)
        model["probability_two_random_records_match"] = prior_probability(
            max(n, cfg.population or 0), cfg.expected_duplicate_rate
        )
    stats["prior"] = model["probability_two_random_records_match"]
    t2 = time.monotonic()
    if n >= 2:
        linker = make_linker(
            feats, model, memory_limit=cfg.memory_limit, temp_directory=cfg.temp_directory
        )
        kept = linker.inference.predict(threshold_match_probability=cfg.keep_pairs_above)
        pred = pairs_frame(kept)
        kept.db_api.duckdb_con.close()  # DuckDB's memory back before clustering
        del linker, kept
    else:
        pred = pd.DataFrame(
            columns=["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        )
    t3 = time.monotonic()
    pred = pred.astype({"unique_id_l": str, "unique_id_r": str})
    ids = feats.column("unique_id").to_pylist()
    del feats
    best = pd.concat(
        [
            pred[["unique_id_l", "match_probability"]].rename(columns={"unique_id_l": "id"}),
            pred[["unique_id_r", "match_probability"]].rename(columns={"unique_id_r": "id"}),
        ]
    )
    best = best.groupby("id")["match_probability"].max().to_dict() if len(best) else {}
    links = pred[pred["match_probability"] >= cfg.review]
    comp = connected_components(list(zip(links["unique_id_l"], links["unique_id_r"])))
    # an automatic merge also needs the address to corroborate: identical name, kana, birth date and
    # sex at another address is what both a moved person and a namesake look like (review)
    # and the birth date to agree: a record whose birth date is unknown is also its namesake
    # parent's or child's record at the same address
    corroborating = level_gammas(
        model, "address", ("Exact match on addr_key", "Exact match on addr_numbers")
    )
    born = level_gammas(model, "birth_date", ("Exact match on birth_date",))
    strong = (
        links[
            (links["match_probability"] >= cfg.auto_merge)
            & links["gamma_address"].isin(corroborating)
            & links["gamma_birth_date"].isin(born)
        ]
        if len(links)
        else links
    )
    strong_comp = connected_components(list(zip(strong["unique_id_l"], strong["unique_id_r"])))
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


def pairs_frame(predictions):
    """The kept candidate pairs as pandas: ids, probability, weight and the gamma columns (not
    the compared keys splink retains beside them: nothing here reads them)."""
    rel = predictions.as_duckdbpyrelation()
    keep = ("unique_id_l", "unique_id_r", "match_probability", "match_weight")
    cols = [c for c in rel.columns if c in keep or c.startswith("gamma_")]
    return rel.select(*[f'"{c}"' for c in cols]).df()


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
    for x, root in connected_components(truth).items():
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
