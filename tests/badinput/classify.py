"""Count the cases of cases.tsv as ok / weak / bad, by command, against any checkout.

    python tests/badinput/classify.py [--pythonpath DIR[:DIR]] [--jobs 2] [--json OUT.json]

Each case runs as a real process (``python -c 'ikou.cli.main'``) with the given PYTHONPATH, so
the same cases can be judged against an older tree (e.g. ``git archive <commit> include``).
Cases marked ``pending=`` (another helper's branch) are left out and counted apart."""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, environment, judge, load_cases  # noqa: E402
from inputs import build  # noqa: E402

RUN = "import sys; from ikou.cli import main; sys.exit(main(sys.argv[1:]))"


def run_case(case: Case, data: Path, pythonpath: str, timeout: float) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="ikou-case-") as t:
        tmp = Path(t)
        env = dict(os.environ)
        env.update(environment(case, tmp))
        env["PYTHONPATH"] = pythonpath
        env.pop("IKOU_DEBUG", None)
        for d in case.live:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    RUN,
                    "cutover",
                    "record-live",
                    "--domain",
                    d,
                    "--snapshot",
                    "2025-01-01",
                    "--who",
                    "setup",
                ],
                env=env,
                capture_output=True,
                timeout=timeout,
            )
        try:
            p = subprocess.run(
                [sys.executable, "-c", RUN, *case.argv(data, tmp)],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return "weak", f"no answer within {timeout:.0f} s"
        return judge(case, p.returncode, p.stdout, p.stderr)


def main() -> int:
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[2]
    ap.add_argument("--pythonpath", default=f"{here / 'include'}{os.pathsep}{here / 'dev'}")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json")
    a = ap.parse_args()
    cases = load_cases()
    counted = [c for c in cases if not c.pending]
    with tempfile.TemporaryDirectory(prefix="ikou-cases-data-") as d:
        data = build(Path(d))
        with ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda c: run_case(c, data, a.pythonpath, a.timeout), counted))
    by: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    rows = []
    for c, (verdict, why) in zip(counted, results):
        by[c.command][verdict] += 1
        rows.append({"line": c.line, "argv": c.argv_text, "verdict": verdict, "why": why})
    total = collections.Counter()
    print(f"{'command':<10} {'ok':>4} {'weak':>5} {'bad':>4}")
    for cmd in sorted(by):
        total.update(by[cmd])
        print(f"{cmd:<10} {by[cmd]['ok']:>4} {by[cmd]['weak']:>5} {by[cmd]['bad']:>4}")
    print(f"{'total':<10} {total['ok']:>4} {total['weak']:>5} {total['bad']:>4}")
    print(f"(left out: {len(cases) - len(counted)} cases pending other branches)")
    for r in rows:
        if r["verdict"] != "ok":
            print(f"  L{r['line']} {r['verdict']}: {r['argv'][:80]} — {r['why'][:140]}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
