"""Findings: one row per problem found by any stage — never a personal value.

Columns (DESIGN.md): domain, run, stage, rule, severity, field, record_key (keyed hash), count,
detail. ``detail`` holds codes, offsets, code points and reasons only; callers never put decoded
text there. Findings are written to the reports zone as JSON (``findings/{stage}.json``) next to
the stage's report, summarised by rule and field.

A stage that runs in parts (record ranges of one file, e.g. the cleanse parts) gives each
``extend`` an ``order`` (a sortable key of the step that found the problems): :meth:`Findings.merge`
then joins the parts' findings into the items the whole file's run has, block by block.
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
        #: (order, number of items) of each ``extend`` given an order, in the items' order
        self.blocks: list[tuple[tuple, int]] = []

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

    def extend(
        self,
        rule: str,
        severity: str,
        field: str,
        record_keys,
        detail: str = "",
        order: tuple | None = None,
    ) -> None:
        """One finding per record key (in the records' order); ``order``: the block's place
        among the stage's findings when the stage runs in parts (see :meth:`merge`)."""
        before = len(self.items)
        for k in record_keys:
            self.add(rule, severity, field, k, 1, detail)
        if order is not None and len(self.items) > before:
            self.blocks.append((tuple(order), len(self.items) - before))

    def merge(self, parts: list[Findings]) -> None:
        """Append the findings of the parts of one run (record ranges, given in the records'
        order) as one run over all their records would have found them: the blocks (one
        ``extend`` each) ordered by their ``order``, a block's items part after part — the same
        rule, field and detail, the record keys in record order. Every item of a part must be
        in a block (else ValueError: its place is unknown)."""
        blocks: list[tuple[tuple, int, int, int]] = []  # (order, part, first item, items)
        for i, p in enumerate(parts):
            at = 0
            for order, n in p.blocks:
                blocks.append((order, i, at, n))
                at += n
            if at != len(p.items):
                raise ValueError(
                    f"findings of part {i}: {len(p.items) - at} item(s) without an order"
                )
        blocks.sort(key=lambda b: (b[0], b[1]))  # each part's blocks are in order already
        for order, i, at, n in blocks:
            self.items.extend(parts[i].items[at : at + n])
            if self.blocks and self.blocks[-1][0] == order:
                self.blocks[-1] = (order, self.blocks[-1][1] + n)
            else:
                self.blocks.append((order, n))

    def state(self) -> dict:
        """The items and blocks as JSON-able data (a part's findings, stored for the merge)."""
        return {"rows": self.rows(), "blocks": [[list(o), n] for o, n in self.blocks]}

    @classmethod
    def from_state(cls, domain: str, run: str, stage: str, doc: dict) -> Findings:
        """:meth:`state` back (the rows must be of this domain, run and stage)."""
        out = cls(domain, run, stage)
        for r in doc["rows"]:
            f = Finding(**r)
            if (f.domain, f.run, f.stage) != (domain, run, stage):
                raise ValueError(f"a finding of {f.domain}/{f.run}/{f.stage} among {domain}/{run}")
            out.items.append(f)
        out.blocks = [(tuple(o), int(n)) for o, n in doc["blocks"]]
        return out

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
