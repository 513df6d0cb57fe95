"""``ikou train-dedupe``: (re)build the shipped 名寄せ model on a synthetic training city.

Training on a synthetic city needs the synthetic-city generator and the benchmark's city
builder, so it lives in the development package; the runtime keeps :func:`ikou.cleanse.dedupe_model.train`
(``ikou dedupe --train`` re-estimates u on a real city's own data).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ikou.argparsing import Parser
from ikou.cleanse.dedupe_model import MODEL_PATH, train
from ikou_dev.bench.dedupe import city_input


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="ikou train-dedupe", description=__doc__.splitlines()[0])
    p.add_argument("--residents", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=101)
    p.add_argument("-o", "--output", default=str(MODEL_PATH))
    a = p.parse_args(argv)
    records, truth = city_input(a.residents, a.seed)
    model = train(records, labels=truth, seed=a.seed)
    model["ikou"] = {
        "trained_on": f"synthetic city, {a.residents} residents, seed {a.seed} "
        "(ikou_dev.bench.cleanse.build_city)",
        "method": "u: random sampling (2e7 pairs); m: the labelled duplicate pairs of the city's "
        "answer key, floored at 0.001 and renormalised; prior: set per input from the expected "
        "duplicate rate",
        "trained_at": time.strftime("%Y-%m-%d"),
        "command": f"ikou train-dedupe --residents {a.residents} --seed {a.seed}",
    }
    Path(a.output).write_text(
        json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {a.output}")
    return 0
