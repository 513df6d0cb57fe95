"""The pure parts of the cleanse stage in record ranges: the ranges, the setting, and the merge of
the parts' findings into the whole file's (ikou.findings.Findings.merge)."""

from __future__ import annotations

import pytest

from ikou.findings import Findings
from ikou.stages.cleanse_parts import part_settings, row_ranges
from ikou.stages.common import StageError


def test_ranges_tile_the_file_in_order():
    assert row_ranges(500, 500, 16) == []  # at most one part's records: cleansed whole
    assert row_ranges(1_000_000, 500_000, 16) == [(0, 500_000), (500_000, 1_000_000)]
    r = row_ranges(3_800_000, 500_000, 16)
    assert len(r) == 8 and r[0][0] == 0 and r[-1][1] == 3_800_000
    assert all(a[1] == b[0] for a, b in zip(r, r[1:]))
    assert len(row_ranges(10_000, 10, 4)) == 4  # at most IKOU_CLEANSE_MAX_PARTS


def test_the_part_setting_is_a_positive_integer(monkeypatch):
    assert part_settings() == (500_000, 16)
    monkeypatch.setenv("IKOU_CLEANSE_PART_ROWS", "70")
    assert part_settings()[0] == 70
    for bad in ("lots", "0", "-3"):
        monkeypatch.setenv("IKOU_CLEANSE_PART_ROWS", bad)
        with pytest.raises(StageError, match="IKOU_CLEANSE_PART_ROWS must be"):
            part_settings()


def _run(records: list[tuple[int, str]]) -> Findings:
    """Findings of a stage over these (row, value) records: per field (order 0, 1), each
    problem's records in a block, blocks of a field sorted by problem — as cleanse_table."""
    f = Findings("juki", "r1", "cleanse")
    for fi, field in enumerate(("NAME", "ADDR")):
        for problem in sorted({v for _, v in records}):
            rows = [f"{field}-{r}" for r, v in records if v == problem]
            f.extend(problem, "warning", field, rows, detail="d", order=(fi, 0, problem, "d"))
    return f


def test_parts_findings_merge_into_the_whole_runs():
    records = [(0, "b"), (1, "a"), (2, "b"), (3, "c"), (4, "a"), (5, "c"), (6, "b")]
    whole = _run(records)
    # part 0 has no "c", part 1 no "a": a block missing from a part keeps its place
    parts = [_run(records[:3]), _run(records[3:4]), _run(records[4:])]
    merged = Findings("juki", "r1", "cleanse")
    merged.merge(parts)
    assert merged.items == whole.items
    assert merged.blocks == whole.blocks
    again = Findings("juki", "r1", "cleanse")
    again.merge([Findings.from_state("juki", "r1", "cleanse", p.state()) for p in parts])
    assert again.items == whole.items


def test_a_finding_without_an_order_cannot_be_merged():
    f = Findings("juki", "r1", "cleanse")
    f.add("no_town_list", "warning")
    with pytest.raises(ValueError, match="1 item\\(s\\) without an order"):
        Findings("juki", "r1", "cleanse").merge([f])


def test_a_part_of_another_run_is_refused():
    f = _run([(0, "a")])
    with pytest.raises(ValueError, match="a finding of juki/r1/cleanse among juki/r2"):
        Findings.from_state("juki", "r2", "cleanse", f.state())


class _CountingStore:
    """A local Store that counts the bytes a caller fetched by range."""

    def __init__(self):
        from ikou.storage import Store

        self.store, self.fetched = Store(), 0

    def get_range(self, uri, start, end, dest, if_match=""):
        self.fetched += end - start
        return self.store.get_range(uri, start, end, dest, if_match)


def test_a_part_fetches_its_row_groups_and_the_footer_only(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ikou.stages.cleanse_parts import fetch_rows

    n = 20_000
    table = pa.table(
        {
            "_record": pa.array(range(n), pa.int64()),
            "name": pa.array([f"名前{i * 7919 % 10007}" for i in range(n)], pa.string()),
        }
    )
    path = tmp_path / "ATENA.parquet"
    pq.write_table(table, path, row_group_size=1000, compression="zstd")
    size = path.stat().st_size
    for start, end in ((0, 1), (999, 1001), (4500, 9750), (19_000, 20_000), (0, n)):
        store = _CountingStore()
        work = tmp_path / f"w{start}-{end}"
        work.mkdir()
        got, rows = fetch_rows(store, str(path), size, "", start, end, work)
        assert rows == n and got.equals(table.slice(start, end - start))
        # the row groups of the range (of twenty) and the footer: about one group's bytes
        groups = (end - 1) // 1000 - start // 1000 + 1
        assert store.fetched < size * (groups + 1.5) / 20, (start, end, store.fetched)


def _plan_and_results(rows: int, bounds: list[int]):
    from ikou.pipeline import CleansePart, CleansePartResult

    planned, results = [], []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        common = {"file": "JUKI", "index": i, "parts": len(bounds) - 1, "start": a, "end": b}
        planned.append(
            CleansePart(
                **common,
                snapshot="2026-01-01",
                source="s3://r/raw/juki/x/",
                rows=rows,
                planned_at=0.0,
                size=1,
            )  # fmt: skip
        )
        results.append(
            CleansePartResult(
                **common,
                planned_at=0.0,
                files={},
                sha256={},
                bytes={},
                records_in=b - a,
                records_out=b - a,
                changes=0,
                findings=0,
                seconds=0.0,
            )  # fmt: skip
        )
    return planned, results


class _LF:
    name = "JUKI"


def test_each_parts_accounting_and_the_tiling_are_checked():
    from ikou.stages.cleanse_parts import check_parts

    planned, results = _plan_and_results(100, [0, 40, 70, 100])
    assert [r.index for r in check_parts(_LF, planned, results[::-1])] == [0, 1, 2]
    # a part that lost a record (out + merged < in): the merge refuses it
    bad = results[1].model_copy(update={"records_out": 29})
    with pytest.raises(StageError, match="JUKI part 1: 30 in, 29 out, 0 merged"):
        check_parts(_LF, planned, [results[0], bad, results[2]])
    # a part missing
    with pytest.raises(StageError, match=r"missing \[2\]"):
        check_parts(_LF, planned, results[:2])
    # a plan that does not cover the file
    short, short_results = _plan_and_results(120, [0, 40, 70, 100])
    with pytest.raises(StageError, match="parts end at record 100 of 120"):
        check_parts(_LF, short, short_results)
