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
