"""The ``ikou`` argument parser: every runtime sub-command, its arguments and its handler
(:mod:`ikou.cli.commands`); the development commands are listed for ``--help`` only."""

from __future__ import annotations

import argparse

from ikou.cli.commands import (
    run_copybook,
    run_cutover,
    run_dedupe,
    run_docs,
    run_gx,
    run_land,
    run_link,
    run_plan,
    run_registry,
    run_review,
)


def build_parser() -> argparse.ArgumentParser:
    from ikou.argparsing import Parser, with_exit_codes

    parser = Parser(
        prog="ikou", description="Ikou (移行): mainframe → standard systems migration tools"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error (before the command: ikou --debug COMMAND …)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from ikou.mainframe.cli import add_decode_parser, run_decode

    d = with_exit_codes(add_decode_parser(sub))
    d.set_defaults(fn=run_decode)

    pl = sub.add_parser(
        "plan",
        help="capacity plan of the nightly rehearsal (from the calibrated per-record costs)",
        description="capacity: the nightly rehearsal's wall time for N residents on W one-slot "
        "workers, its critical path and the fewest workers that end it by 06:00 JST, from each "
        "domain's latest rehearsal (exit 4 when a domain was never rehearsed).",
    )
    pl.add_argument("action", choices=["capacity"])
    pl.add_argument("--residents", type=int, required=True, help="the city's residents")
    pl.add_argument("--workers", type=int, required=True, help="task slots (one core each)")
    pl.add_argument(
        "--task-overhead",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds the orchestrator adds to every stage task (start-up, scheduling; the "
        "master benchmark measures it); default 0: the stages' own time only",
    )
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(fn=run_plan)

    cbp = sub.add_parser(
        "copybook",
        help="a copybook's record layout: every item's offset, size, type and picture",
        description="layout: the items of every 01 record in copybook order with 1-based "
        "positions (--json: 0-based offsets too), as the decoder computes them.",
    )
    cbp.add_argument("action", choices=["layout"])
    cbp.add_argument("copybook", help="C.cpy")
    cbp.add_argument("--json", action="store_true", help="machine-readable output")
    cbp.add_argument("--copybook-format", choices=["auto", "fixed", "free"], default="auto")
    cbp.add_argument("--copybook-dir", action="append", help="where COPY members are looked up")
    cbp.add_argument("--nsymbol", choices=["dbcs", "national"], default="dbcs")
    cbp.add_argument("--keep-filler", action="store_true", help="FILLERs as FILLER_1, FILLER_2 …")
    cbp.set_defaults(fn=run_copybook)

    ld = sub.add_parser(
        "land",
        help="land a vendor's extract files as a snapshot of a domain (checked, manifest last)",
        description="Each FILE (a local file, an s3:// object, or every object under an s3:// "
        "prefix ending in /) must be one of the domain's legacy files — named as it or its "
        "dataset, or given as NAME=FILE — of a size that fits its record format, and decode on "
        "trial with the registry's options. Then the files are uploaded to landing/D/S/ and "
        "_manifest.json is written last. Refused (exit 1) otherwise; nothing is uploaded.",
    )
    ld.add_argument("--domain", required=True, help="the domain (registry id)")
    ld.add_argument("--snapshot", required=True, help="抽出日 YYYY-MM-DD or YYYYMMDD")
    ld.add_argument("--who", required=True, help="the person landing the files (1–128 characters)")
    ld.add_argument("files", nargs="+", metavar="FILE", help="FILE, NAME=FILE or s3://prefix/")
    ld.set_defaults(fn=run_land)

    r = sub.add_parser("registry", help="list the domains and the plan (validates them)")
    r.set_defaults(fn=run_registry)

    g = sub.add_parser("gx", help="the GX project")
    g.add_argument("action", choices=["generate"])
    g.add_argument(
        "--check",
        action="store_true",
        help="fail if the committed project drifted from the registry",
    )
    g.set_defaults(fn=run_gx)

    dc = sub.add_parser("docs", help="Data Docs")
    dc.add_argument("action", choices=["build"])
    dc.set_defaults(fn=run_docs)

    dd = sub.add_parser(
        "dedupe",
        help="名寄せ: cluster duplicate addressee records (splink + DuckDB)",
        description="INPUT columns: atena_id, name, name_kana, birth_date, sex, address. "
        "Output: atena_id, cluster_id, match_score, decision (auto_merge | review | "
        "distinct), every input record once.",
    )
    dd.add_argument("input", help="INPUT.parquet")
    dd.add_argument("-o", "--output", required=True, help="CLUSTERS.parquet")
    dd.add_argument(
        "--auto-merge", type=float, default=0.999, help="match probability for automatic merges"
    )
    dd.add_argument(
        "--review", type=float, default=0.2, help="match probability for the review queue"
    )
    dd.add_argument(
        "--max-auto-cluster", type=int, default=3, help="larger clusters always go to review"
    )
    dd.add_argument(
        "--duplicate-rate",
        type=float,
        default=0.02,
        help="expected share of duplicate records (prior)",
    )
    dd.add_argument(
        "--population",
        type=int,
        help="records of the whole population when INPUT is a part of it (prior)",
    )
    dd.add_argument("--model", help="a splink model JSON (default: the shipped one)")
    dd.add_argument(
        "--train",
        action="store_true",
        help="re-estimate u on this input (random sampling; m stays the model's)",
    )
    dd.add_argument("--save-model", help="write the model used to this JSON file")
    dd.set_defaults(fn=run_dedupe)

    rv = sub.add_parser(
        "review",
        help="名寄せ review: pages of a run's queue, or submit a decisions file "
        "(restricted: personal data)",
    )
    rv.add_argument("action", choices=["pages", "submit"])
    rv.add_argument("domain")
    rv.add_argument(
        "file", nargs="?", help="submit: the decisions CSV (cluster,decision,reviewer,reason,time)"
    )
    rv.add_argument("--run", help="pages: the run id")
    rv.add_argument("-o", "--out", help="pages: a folder for the HTML pages")
    rv.set_defaults(fn=run_review)

    co = sub.add_parser(
        "cutover",
        help="cutover state in the target database: status, check, record-live, revoke",
        description="status: live domains and events; check: would the cutover guard let a "
        "cutover start (exit 1: no); record-live: a domain already live before Ikou; revoke: "
        "withdraw a domain's live record (kept, marked revoked) so it can be recorded again.",
    )
    co.add_argument("action", choices=["status", "check", "record-live", "revoke"])
    co.add_argument("--domain", help="the domain (check / record-live; status: its events)")
    co.add_argument(
        "--snapshot", default="", help="YYYY-MM-DD (check: default the latest published)"
    )
    co.add_argument(
        "--who", default="", help="record-live / revoke: the person recording it (1–128 characters)"
    )
    co.add_argument(
        "--reason", default="", help="revoke: why the live record is withdrawn (1–500 characters)"
    )
    co.add_argument(
        "--manifest-sha256", default="", help="record-live: sha256 of what went live, if known"
    )
    co.add_argument("--note", default="", help="record-live: a note kept with the record")
    co.add_argument("--confirm", action="store_true", help="check: as if confirm_cutover were set")
    co.add_argument(
        "--base-snapshot",
        default="",
        help="check: a delta cutover from this snapshot (needs it loaded_ahead, and its latest "
        "published output still the one loaded ahead)",
    )
    co.add_argument(
        "--load-ahead",
        action="store_true",
        help="check: a full load ahead (mode load_ahead) instead of a cutover",
    )
    co.add_argument("--json", action="store_true", help="machine-readable output")
    co.set_defaults(fn=run_cutover)

    lk = sub.add_parser(
        "link",
        help="データ連携: a live domain's changes of a period as the mainframe's change records",
        description="For a domain live on the standard system (cutover state live), the changes "
        "of FROM..TO (dates in Asia/Tokyo) as fixed-length EBCDIC change records with 異動区分 "
        "I/U/D per the linkage copybook of its registry entry, header and trailer with control "
        "totals: OUT/<DATASET>.<TO>.dat, a worklist of the records held back (keyed hashes), then "
        "_manifest.json last. Source: the live tables between two load-log entries, or a delta "
        "set (--from-delta). Exit 1 while the domain is not live.",
    )
    lk.add_argument("--domain", required=True, help="the domain (registry id, linkage enabled)")
    lk.add_argument("--from", dest="date_from", required=True, help="first day YYYY-MM-DD")
    lk.add_argument("--to", dest="date_to", required=True, help="last day YYYY-MM-DD")
    lk.add_argument("--out", required=True, help="a folder or an s3:// prefix (restricted)")
    lk.add_argument(
        "--from-delta", metavar="DIR", help="a delta set (TABLE.delta.csv + manifest.json)"
    )
    lk.add_argument(
        "--gaiji", metavar="TABLE.csv", help="the city's 外字 table (default: the live snapshot's)"
    )
    lk.add_argument("--json", action="store_true", help="print the manifest")
    lk.set_defaults(fn=run_link)

    # listed for --help; main() hands their arguments to the development package's parsers
    for name, text in (
        ("synth", "write a synthetic city's legacy extract files (and the answer key)"),
        ("stack", "the embedded default stack (make run / ui / down)"),
        ("bench", "benchmarks (writes bench/results/*.json)"),
        ("train-dedupe", "rebuild the shipped 名寄せ model on a synthetic training city"),
    ):
        sub.add_parser(name, help=f"{text} [development package]", add_help=False)

    return parser
