"""Findings: one row per problem found by any stage — never a personal value.

Columns (DESIGN.md): domain, run, stage, rule, severity, field, record_key (keyed hash), count,
detail. ``detail`` holds codes, offsets, code points and reasons only; callers never put decoded
text there. Findings are written to the reports zone as JSON (``findings/{stage}.json``) next to
the stage's report, summarised by rule and field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Finding:
    domain: str
    run: str
    stage: str
    rule: str
    severity: str
    field: str = ""
    record_key: str = ""  # keyed hash (ikou.hashing), never the key itself
    count: int = 1
    detail: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")


class Findings:
    """Collects findings of one stage run."""

    def __init__(self, domain: str, run: str, stage: str):
        self.domain, self.run, self.stage = domain, run, stage
        self.items: list[Finding] = []

    def add(
        self,
        rule: str,
        severity: str = "warning",
        field: str = "",
        record_key: str = "",
        count: int = 1,
        detail: str = "",
    ) -> None:
        self.items.append(
            Finding(
                self.domain, self.run, self.stage, rule, severity, field, record_key, count, detail
            )
        )

    def extend(self, rule: str, severity: str, field: str, record_keys, detail: str = "") -> None:
        for k in record_keys:
            self.add(rule, severity, field, k, 1, detail)

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> dict[str, int]:
        c: Counter = Counter()
        for f in self.items:
            c[f"{f.rule}:{f.field}" if f.field else f.rule] += f.count
        return dict(sorted(c.items()))

    def by_rule(self) -> dict[str, int]:
        c: Counter = Counter()
        for f in self.items:
            c[f.rule] += f.count
        return dict(sorted(c.items()))

    def rows(self) -> list[dict]:
        return [asdict(f) for f in self.items]
