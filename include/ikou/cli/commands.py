"""The handlers of the runtime ``ikou`` sub-commands: each takes the parsed arguments and returns
the exit code. Their parsers are in :mod:`ikou.cli.parser`; each imports what it needs when it
runs (start-up stays small)."""

from __future__ import annotations

import json
import sys


def run_registry(args) -> int:
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


def run_gx(args) -> int:
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


def run_docs(args) -> int:
    from ikou.quality.docs import build_site

    print(json.dumps(build_site(), indent=2))
    return 0


def run_dedupe(args) -> int:
    from ikou.cleanse.dedupe import main as dedupe_main

    return dedupe_main(args)


def run_review(args) -> int:
    from pathlib import Path

    from ikou.cleanse.review import cli_pages, cli_submit
    from ikou.errors import BadArgument, Unreadable
    from ikou.load.control_tables import known_domain
    from ikou.pipeline import RUN_ID_MAX, check_text

    known_domain(args.domain, "DOMAIN")
    if args.action == "pages":
        if args.file:
            raise BadArgument("review pages takes no FILE (it reads the run's queue)")
        check_text(args.run or "", "--run", max_len=RUN_ID_MAX, required=True)
        if not (args.out or "").strip():
            raise BadArgument("review pages needs -o DIR (a restricted folder for the pages)")
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise BadArgument(f"-o {args.out}: not a folder")
        return cli_pages(args)
    if args.run or args.out:
        raise BadArgument("review submit takes no --run / -o (the next run applies the file)")
    if not (args.file or "").strip():
        raise BadArgument("review submit needs FILE (the decisions CSV)")
    path = Path(args.file)
    if not path.is_file():
        raise Unreadable(
            f"cannot read {path}: {'is a directory' if path.is_dir() else 'no such file'}"
        )
    from ikou.cleanse.review import read_decisions

    try:
        rows = read_decisions(path.read_bytes(), path.name)
    except UnicodeDecodeError:
        raise BadArgument(f"{path.name}: not UTF-8 text (a decisions CSV)") from None
    except Exception as exc:  # pyarrow / csv: the file is not a table
        if type(exc).__module__.startswith(("pyarrow", "_csv", "csv")):
            raise BadArgument(
                f"{path.name}: not a readable decisions file (CSV or Parquet)"
            ) from None
        raise
    if not rows:
        raise BadArgument(
            f"{path.name}: no decision rows (header cluster,decision,reviewer,reason,time)"
        )
    try:
        return cli_submit(args)
    except SystemExit as exc:  # its own refusal of an invalid decisions file: bad input
        if isinstance(exc.code, str):
            raise BadArgument(exc.code) from None
        raise


def run_copybook(args) -> int:
    from pathlib import Path

    from ikou.errors import BrokenCopybook, Unreadable
    from ikou.mainframe.copybook import CopybookError, parse_copybook
    from ikou.mainframe.layout_report import layout_rows, render_layout

    path = Path(args.copybook)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"{path}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    try:
        cb = parse_copybook(
            text,
            source=str(path),
            format=args.copybook_format,
            copybook_dirs=tuple(args.copybook_dir or ()),
            nsymbol=args.nsymbol,
            keep_filler=args.keep_filler,
        )
    except CopybookError as exc:
        raise BrokenCopybook(str(exc)) from None
    rows = layout_rows(cb)
    if args.json:
        print(
            json.dumps(
                {"source": str(path), "lrecl": cb.lrecl, "items": rows},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(render_layout(cb, rows), end="")
    for w in cb.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def run_plan(args) -> int:
    from ikou.domains import registry
    from ikou.rehearsal.capacity import capacity_plan, check_arguments, load_costs
    from ikou.storage import Store

    check_arguments(args.residents, args.workers, args.task_overhead)
    reg = registry()
    plan = capacity_plan(
        load_costs(reg, Store()),
        args.residents,
        args.workers,
        reg.plan.source.city.residents,
        reg.plan.source.rehearsal.night_hours,
        args.task_overhead,
    )
    if args.json:
        print(json.dumps(plan, ensure_ascii=False, indent=2))
        return 0
    cp = plan["critical_path"]
    mw = plan["min_workers_0600"]
    over = plan["task_overhead_seconds"]
    print(
        f"{plan['residents']:,} residents on {plan['workers']} workers: {plan['wall_hours']:.2f} h"
        + (f" (with {over:g} s of orchestration a stage task)" if over else " (stages only)")
    )
    print(f"critical path ({cp['hours']:.2f} h): {' → '.join(cp['domains'])}")
    print(
        f"ends by 06:00 JST (01:00 + {plan['night_hours']:g} h) with at least {mw} workers"
        if mw
        else f"cannot end by 06:00 JST: the critical path alone is {cp['hours']:.2f} h"
    )
    for d, h in sorted(plan["domain_hours"].items(), key=lambda kv: -kv[1]):
        src = plan["calibration_points"][d]
        print(f"  {d:<17} {h:8.3f} h   from {src['run_id']} ({src['legacy_records']:,} records)")
    return 0


def run_land(args) -> int:
    from ikou.stages.land import land

    manifest = land(args.domain, args.snapshot, args.files, args.who)
    for f in manifest["files"]:
        print(
            f"landed {f['legacy_file']:<12} {f['bytes']:>14,} bytes  sha256 {f['sha256'][:16]}…  "
            f"trial {f['trial']['records']:,} records, {f['trial']['quarantined']:,} quarantined  "
            f"← {f['source']}"
        )
    print(
        f"manifest: s3 landing/{manifest['domain']}/{manifest['snapshot']}/_manifest.json (written last)"
    )
    return 0


def run_cutover(args) -> int:
    from ikou.cli.cutover import cli

    return cli(args)


def run_link(args) -> int:
    from ikou.stages.link import link

    m = link(
        args.domain,
        args.date_from,
        args.date_to,
        args.out,
        from_delta=args.from_delta,
        gaiji=args.gaiji,
    )
    if args.json:
        print(json.dumps(m, ensure_ascii=False, indent=2))
        return 0
    ops = m["ops"]
    print(
        f"linked {m['domain']} {m['from']}..{m['to']}: {m['records']['data']:,} change records "
        f"(I {ops['I']:,} U {ops['U']:,} D {ops['D']:,}), {m['held']:,} held back (worklist) "
        f"→ {m['file']} ({m['code_page']}, LRECL {m['lrecl']}), sha256 {m['sha256'][:16]}…"
    )
    print(f"manifest: {m['manifest_uri']} (written last)")
    return 0
