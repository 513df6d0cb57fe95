"""`ikou`: the command line for engineers working outside Airflow.

    ikou synth --residents 20000 --seed 7 --snapshot 2026-11-01 --out s3://ikou-restricted/landing
    ikou decode --copybook C.cpy --encoding cp930 INPUT -o OUT.parquet
    ikou registry                       the 20 domains and the plan, checked
    ikou gx generate [--check]          (re)write the GX project from the registry
    ikou docs build                     build the Data Docs site into the reports bucket
    ikou dedupe INPUT.parquet -o CLUSTERS.parquet    名寄せ (duplicate addressees)
    ikou review pages juki --run RUN -o DIR          the review queue as HTML (restricted)
    ikou review submit juki decisions.csv            reviewers' decisions for the next run
    ikou cutover status [--domain D]    live domains, cutover events, latest rehearsals (target database)
    ikou cutover check --domain D [--snapshot S] [--confirm]    would the cutover guard let it start?
    ikou cutover record-live --domain juki --snapshot 2025-01-04 --who NAME   a domain live before Ikou
    ikou stack run|up|ui|down|env       the embedded default stack (make run / ui / down)
    ikou bench [--quick] [NAME ...]     benchmarks (make bench)
    ikou train-dedupe [--residents N]   rebuild the shipped 名寄せ model

`synth`, `stack`, `bench` and `train-dedupe` come from the development package (dev/, ikou_dev).

Start-up stays small: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys


#: commands of the development package ``ikou_dev`` (entry-point group ``ikou.commands``)
DEV_COMMANDS = ("synth", "stack", "bench", "train-dedupe")
DEV_ENTRY_POINTS = "ikou.commands"


def dev_command(name: str, argv: list[str]) -> int:
    """Run a development command, or say it is absent (exit 1) on a runtime-only install."""
    from importlib.metadata import entry_points

    found = entry_points(group=DEV_ENTRY_POINTS, name=name)
    if not found:
        print(
            f"ikou {name}: development tools not installed (make venv)",
            file=sys.stderr,
        )
        return 1
    return next(iter(found)).load()(argv)


def _registry(args) -> int:
    from ikou.domains import registry

    reg = registry()
    plan = reg.plan
    print(f"{len(reg)} domains, {len(plan.waves)} waves — plan {plan.path}")
    for d in plan.rehearsal_order():
        dom, p = reg.get(d), plan[d]
        files = ", ".join(f"{lf.name}({lf.encoding})" for lf in dom.legacy_files)
        print(
            f"  wave {p.wave} {p.target_date} {p.phase:<11} {d:<17} {dom.name_ja:<12} refers_to={list(p.refers_to)} "
            f"cuts_over_after={list(p.cuts_over_after)} files={files}"
        )
    return 0


def _gx(args) -> int:
    from pathlib import Path

    from ikou.domains import registry
    from ikou.quality.gate import gx_root
    from ikou.quality.suites import project_files, write_project

    root = gx_root() / "gx"
    if args.check:
        files = project_files(registry())
        stale = [
            rel
            for rel, text in files.items()
            if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(
                f"{len(stale)} generated GX files differ from the registry, e.g. {stale[:3]}: run `ikou gx generate`"
            )
            return 1
        print(f"GX project is up to date ({len(files)} files)")
        return 0
    written = write_project(Path(root), registry())
    print(f"wrote {len(written)} files under {root}")
    return 0


def _docs(args) -> int:
    from ikou.quality.docs import build_site

    print(json.dumps(build_site(), indent=2))
    return 0


def _dedupe(args) -> int:
    from ikou.cleanse.dedupe import main as dedupe_main

    return dedupe_main(args)


def _review(args) -> int:
    from ikou.cleanse.review import cli_pages, cli_submit

    return cli_pages(args) if args.action == "pages" else cli_submit(args)


def _cutover(args) -> int:
    from ikou.load.cutover import cli

    return cli(args)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Development commands (stack, bench, synth, train-dedupe) come from the development package
    # through entry points, with their own argument parsers; the runtime never imports it.
    if argv and argv[0] in DEV_COMMANDS:
        return dev_command(argv[0], argv[1:])
    parser = argparse.ArgumentParser(
        prog="ikou", description="Ikou (移行): mainframe → standard systems migration tools"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    from ikou.mainframe.cli import add_decode_parser, run_decode

    d = add_decode_parser(sub)
    d.set_defaults(fn=run_decode)

    r = sub.add_parser("registry", help="list the domains and the plan (validates them)")
    r.set_defaults(fn=_registry)

    g = sub.add_parser("gx", help="the GX project")
    g.add_argument("action", choices=["generate"])
    g.add_argument(
        "--check",
        action="store_true",
        help="fail if the committed project drifted from the registry",
    )
    g.set_defaults(fn=_gx)

    dc = sub.add_parser("docs", help="Data Docs")
    dc.add_argument("action", choices=["build"])
    dc.set_defaults(fn=_docs)

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
    dd.set_defaults(fn=_dedupe)

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
    rv.set_defaults(fn=_review)

    co = sub.add_parser(
        "cutover", help="cutover state in the target database: status, check, record-live"
    )
    co.add_argument("action", choices=["status", "check", "record-live"])
    co.add_argument("--domain", help="the domain (check / record-live; status: its events)")
    co.add_argument(
        "--snapshot", default="", help="YYYY-MM-DD (check: default the latest published)"
    )
    co.add_argument("--who", default="", help="record-live: the person recording it")
    co.add_argument(
        "--manifest-sha256", default="", help="record-live: sha256 of what went live, if known"
    )
    co.add_argument("--note", default="", help="record-live: a note kept with the record")
    co.add_argument("--confirm", action="store_true", help="check: as if confirm_cutover were set")
    co.add_argument("--json", action="store_true", help="machine-readable output")
    co.set_defaults(fn=_cutover)

    # listed for --help; main() hands their arguments to the development package's parsers
    for name, text in (
        ("synth", "write a synthetic city's legacy extract files (and the answer key)"),
        ("stack", "the embedded default stack (make run / ui / down)"),
        ("bench", "benchmarks (writes bench/results/*.json)"),
        ("train-dedupe", "rebuild the shipped 名寄せ model on a synthetic training city"),
    ):
        sub.add_parser(name, help=f"{text} [development package]", add_help=False)

    args = parser.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
