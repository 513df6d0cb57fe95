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
    ikou cutover check --domain D [--snapshot S] [--confirm] [--base-snapshot B | --load-ahead]
                                        would the cutover guard let it (a delta cutover, a load ahead) start?
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

This package: :func:`main` and the development-command hand-off here, the parser in
:mod:`ikou.cli.parser`, the sub-commands' handlers in :mod:`ikou.cli.commands`, the wording of
failures in :mod:`ikou.cli.failures`; ``python -m ikou.cli`` is :mod:`ikou.cli.__main__`.
"""

from __future__ import annotations

import sys

from ikou.cli.failures import internal_where, known_failure, one_line

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


def _dispatch(argv: list[str]) -> int:
    # Development commands (stack, bench, synth, train-dedupe) come from the development package
    # through entry points, with their own argument parsers; the runtime never imports it.
    if argv and argv[0] in DEV_COMMANDS:
        return dev_command(argv[0], argv[1:])
    from ikou.cli.parser import build_parser

    args = build_parser().parse_args(argv)
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
        print(f"{prog}: error: {one_line(str(code))}", file=sys.stderr)
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
            print(f"{prog}: error: {one_line(err.message)}", file=sys.stderr)
            return int(err.exit_code)
        print(
            f"{prog}: internal error ({type(exc).__name__} at {internal_where(exc)}): "
            "a bug in Ikou — run with --debug (ikou --debug COMMAND …) and report the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
