"""`ikou`: the command line for engineers working outside Airflow.

    ikou synth --residents 20000 --seed 7 --snapshot 2026-11-01 --out s3://ikou-restricted/landing
    ikou decode --copybook C.cpy --encoding cp930 INPUT -o OUT.parquet
    ikou decode --domain juki --file ATENA INPUT -o OUT.parquet   the registry's options
    ikou decode --domain juki --file ATENA INPUT --hex --limit 5  records field by field (terminal)
    ikou registry                       the 20 domains and the plan, checked
    ikou copybook layout C.cpy [--json] every item's offset, size, type and picture
    ikou plan capacity --residents 3800000 --workers 8 [--json]   the night on W workers
    ikou land --domain juki --snapshot 2026-12-01 --who NAME FILE...   a vendor's files into landing
    ikou gx generate [--check]          (re)write the GX project from the registry
    ikou docs build                     build the Data Docs site into the reports bucket
    ikou dedupe INPUT.parquet -o CLUSTERS.parquet    名寄せ (duplicate addressees)
    ikou review pages juki --run RUN -o DIR          the review queue as HTML (restricted)
    ikou review submit juki decisions.csv            reviewers' decisions for the next run
    ikou cutover status [--domain D]    live domains, cutover events, latest rehearsals (target database)
    ikou cutover check --domain D [--snapshot S] [--confirm]    would the cutover guard let it start?
    ikou cutover record-live --domain juki --snapshot 2025-01-04 --who NAME   a domain live before Ikou
    ikou cutover revoke --domain juki --who NAME --reason WHY   withdraw a live record (kept, marked)
    ikou stack run|up|ui|down|env       the embedded default stack (make run / ui / down)
    ikou bench [--quick] [NAME ...]     benchmarks (make bench)
    ikou train-dedupe [--residents N]   rebuild the shipped 名寄せ model

`synth`, `stack`, `bench` and `train-dedupe` come from the development package (dev/, ikou_dev).

Start-up stays small: each command imports what it needs when it runs. Every command ends in
:func:`main`, the one top-level handler: an error is one line on stderr and the exit code of
:mod:`ikou.errors` (also at the end of every ``--help``); ``ikou --debug COMMAND`` adds the
traceback.
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
    from pathlib import Path

    from ikou.cleanse.review import cli_pages, cli_submit
    from ikou.errors import BadArgument, Unreadable
    from ikou.load.cutover import known_domain
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


def _copybook(args) -> int:
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


def _plan(args) -> int:
    from ikou.domains import registry
    from ikou.rehearsal.capacity import capacity_plan, load_costs
    from ikou.storage import Store

    reg = registry()
    plan = capacity_plan(
        load_costs(reg, Store()),
        args.residents,
        args.workers,
        reg.plan.source.city.residents,
        reg.plan.source.rehearsal.night_hours,
    )
    if args.json:
        print(json.dumps(plan, ensure_ascii=False, indent=2))
        return 0
    cp = plan["critical_path"]
    mw = plan["min_workers_0600"]
    print(
        f"{plan['residents']:,} residents on {plan['workers']} workers: {plan['wall_hours']:.2f} h"
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


def _land(args) -> int:
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


def _cutover(args) -> int:
    from ikou.load.cutover import cli

    return cli(args)


def _build_parser() -> argparse.ArgumentParser:
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
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(fn=_plan)

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
    cbp.set_defaults(fn=_copybook)

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
    ld.set_defaults(fn=_land)

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

    return parser


def _dispatch(argv: list[str]) -> int:
    # Development commands (stack, bench, synth, train-dedupe) come from the development package
    # through entry points, with their own argument parsers; the runtime never imports it.
    if argv and argv[0] in DEV_COMMANDS:
        return dev_command(argv[0], argv[1:])
    args = _build_parser().parse_args(argv)
    return int(args.fn(args) or 0)


def main(argv: list[str] | None = None) -> int:
    """Run one ``ikou`` command; the top-level handler of every command (sub-CLIs included).

    An :class:`~ikou.errors.IkouError` is one line on stderr and its class's exit code; a
    known failure of a library (a file that cannot be read, a service that does not answer) is
    turned into one; anything else is an internal error (exit 70). ``ikou --debug COMMAND``
    (or ``IKOU_DEBUG=1``) shows the traceback as well."""
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("IKOU_DEBUG", "") not in ("", "0")
    while argv and argv[0] == "--debug":
        debug = True
        argv.pop(0)
    command = argv[0] if argv and not argv[0].startswith("-") else ""
    prog = f"ikou {command}".strip()
    try:
        return _dispatch(argv)
    except SystemExit as exc:  # --help, or a sub-CLI that exits itself
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(f"{prog}: error: {_one_line(str(code))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ikou … | head`: the reader left; nothing to report
        import os as _os

        _os.dup2(_os.open(_os.devnull, _os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:  # noqa: BLE001 - the one place every error ends
        from ikou.errors import EXIT_INTERNAL, IkouError

        err = exc if isinstance(exc, IkouError) else known_failure(exc)
        if debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        if err is not None:
            print(f"{prog}: error: {_one_line(err.message)}", file=sys.stderr)
            return int(err.exit_code)
        print(
            f"{prog}: internal error ({type(exc).__name__} at {_where(exc)}): "
            "a bug in Ikou — run with --debug (ikou --debug COMMAND …) and report the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _one_line(message: str) -> str:
    """A message as one line (a refusal that lists its reasons joins them with ';')."""
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    if not parts:
        return "(no message)"
    head, rest = parts[0], [p.lstrip("✗ ").strip() for p in parts[1:]]
    return head + (" " + "; ".join(rest) if rest else "")


def _where(exc: BaseException) -> str:
    """Where an internal error happened: the innermost frame inside Ikou (file:line)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/ikou/" in f.filename.replace("\\", "/")] or frames
    if not ours:
        return "?"
    f = ours[-1]
    path = f.filename.replace("\\", "/")
    path = "ikou/" + path.split("/ikou/", 1)[1] if "/ikou/" in path else path.rsplit("/", 1)[-1]
    return f"{path}:{f.lineno}"


def known_failure(exc: BaseException):
    """A failure of a library that is the user's to fix, as an IkouError (None: a bug).

    Services that do not answer are "cannot reach …" (exit 4, never with credentials); a file
    that cannot be read or written is exit 4; a target database URL that is not one is exit 2.
    The library's own message is not repeated when it could hold a value of the input."""
    from ikou.errors import BadArgument, IkouError, Unreachable, Unreadable

    for e in _chain(exc):
        if isinstance(e, IkouError):
            return e
    names = {c.__name__ for c in type(exc).__mro__}
    module = type(exc).__module__ or ""
    if names & {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
    }:
        return Unreachable(f"cannot reach S3 at {_s3_endpoint()} ({type(exc).__name__})")
    if names & {"NoCredentialsError", "PartialCredentialsError"}:
        return Unreachable(
            f"cannot reach S3 at {_s3_endpoint()}: no credentials "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the ikou_s3 connection)"
        )
    if "ClientError" in names and module.startswith("botocore"):
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", "") or "?")
        op = getattr(exc, "operation_name", "") or "a request"
        return Unreadable(f"S3 at {_s3_endpoint()} refused {op}: {code}")
    if module.startswith(("sqlalchemy", "psycopg")) or "sqlite3" in module:
        if names & {"ArgumentError", "NoSuchModuleError"}:
            return BadArgument(
                "IKOU_TARGET_DB_URL: not a usable database URL (expected "
                "postgresql+psycopg2://USER@HOST:PORT/DB or sqlite:////path/target.sqlite)"
            )
        if names & {"OperationalError", "InterfaceError"}:
            return Unreachable(f"cannot reach the target database {_target_display()}")
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return BadArgument("an argument or input holds bytes that are not valid UTF-8 text")
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        what = exc.strerror or type(exc).__name__
        return Unreadable(f"cannot read or write {exc.filename}: {what}")
    if isinstance(exc, ConnectionError):
        return Unreachable(f"cannot reach a service: {type(exc).__name__}")
    return None


def _chain(exc: BaseException):
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _s3_endpoint() -> str:
    import os

    return os.environ.get("AWS_ENDPOINT_URL") or "the AWS default endpoint"


def _target_display() -> str:
    from ikou.load.target import display_url

    try:
        from ikou.config import settings

        return display_url(settings().target_db_url)
    except Exception:  # noqa: BLE001 - only for the message
        return "(IKOU_TARGET_DB_URL)"


if __name__ == "__main__":
    sys.exit(main())
