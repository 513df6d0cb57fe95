"""The ``ikou`` commands that the development package adds (entry points ``ikou.commands``).

The runtime ``ikou`` finds these through the entry-point group, so the runtime never imports
this package: on a worker image (runtime lock only) ``ikou stack`` says "development tools not
installed (make venv)" with exit 1.
"""

from __future__ import annotations

import json

from ikou.argparsing import Parser


def synth(argv: list[str]) -> int:
    """``ikou synth``: write a synthetic city's legacy extract files (and the answer key), or
    with ``--changes-from BASE`` the next snapshot of BASE's city (and the change answer key)."""
    from ikou_dev.synth import synthesize

    p = Parser(
        prog="ikou synth",
        description="write a synthetic city's legacy extract files (and the answer key)",
    )
    p.add_argument(
        "--residents", type=int, default=None, help="default 20000 (with --changes-from: BASE's)"
    )
    p.add_argument("--seed", type=int, default=None, help="default 7 (with --changes-from: BASE's)")
    p.add_argument("--snapshot", required=True, help="YYYY-MM-DD")
    p.add_argument("--out", required=True, help="s3://bucket/prefix or a local folder")
    p.add_argument(
        "--rate", action="append", metavar="DEFECT=RATE", help="override a seeded defect rate"
    )
    p.add_argument(
        "--domains", nargs="*", help="only these domains (same files as a full run writes)"
    )
    p.add_argument(
        "--changes-from",
        metavar="BASE",
        help="the snapshot (YYYY-MM-DD) under --out whose city changes into --snapshot",
    )
    p.add_argument(
        "--change-rate", type=float, default=None, help="changed residents per month (0.015)"
    )
    p.add_argument("--months", type=int, default=None, help="months of changes (1)")
    args = p.parse_args(argv)
    if args.changes_from is not None:
        from ikou.errors import BadArgument
        from ikou_dev.synth.delta import synthesize_changes

        if args.rate:
            raise BadArgument("--rate: not with --changes-from (BASE's manifest holds the rates)")
        summary = synthesize_changes(
            args.changes_from,
            args.snapshot,
            args.out,
            change_rate=0.015 if args.change_rate is None else args.change_rate,
            months=1 if args.months is None else args.months,
            residents=args.residents,
            seed=args.seed,
            domains=args.domains,
        )
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    if args.change_rate is not None or args.months is not None:
        from ikou.errors import BadArgument

        bad = "--change-rate" if args.change_rate is not None else "--months"
        raise BadArgument(f"{bad}: only with --changes-from BASE")
    rates = {}
    for item in args.rate or []:
        k, _, v = item.partition("=")
        rates[k] = v  # synthesize() checks name and range (one BadArgument line)
    summary = synthesize(
        20000 if args.residents is None else args.residents,
        7 if args.seed is None else args.seed,
        args.snapshot,
        args.out,
        rates=rates,
        domains=args.domains,
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def stack(argv: list[str]) -> int:
    """``ikou stack``: the embedded default stack (make run / ui / down)."""
    from ikou_dev.localstack import main

    return main(argv)


def bench(argv: list[str]) -> int:
    """``ikou bench``: the benchmarks (make bench)."""
    from ikou_dev.bench import main

    return main(argv)


def train_dedupe(argv: list[str]) -> int:
    """``ikou train-dedupe``: rebuild the shipped 名寄せ model on a synthetic training city."""
    from ikou_dev.train_dedupe import main

    return main(argv)
