"""Nothing silently wrong (issue 9 §6): trailer count and control totals decide exit 6 (outputs
still written); a total over unreadable values is ``unverified``; a declared header or trailer
that is missing is a mismatch. Files built byte by byte; all data synthetic."""

from __future__ import annotations

import json

import pytest

from ikou.mainframe.cli import EXIT_CONTROL, EXIT_OK, main
from ikou.mainframe.engine_results import DecodeSummary, merge_summaries

from .conftest import fixed

CPY = fixed(
    "01  HDR.",
    "    05  H-TYPE   PIC X.",
    "    05  FILLER   PIC X(7).",
    "01  DAT.",
    "    05  D-TYPE   PIC X.",
    "    05  AMT      PIC S9(5) COMP-3.",
    "    05  FILLER   PIC X(4).",
    "01  TRL.",
    "    05  T-TYPE   PIC X.",
    "    05  T-COUNT  PIC 9(3).",
    "    05  T-TOTAL  PIC S9(7) COMP-3.",
)


def ebc(s: str) -> bytes:
    return s.encode("cp037")


def hdr() -> bytes:
    return ebc("H") + ebc(" " * 7)


def dat(amount: int, bad: bool = False) -> bytes:
    digits = f"{abs(amount):05d}"
    packed = bytes.fromhex(digits + ("D" if amount < 0 else "C"))
    if bad:
        packed = b"\xfa" + packed[1:]
    return ebc("D") + packed + ebc("    ")


def trl(count: int, total: int) -> bytes:
    packed = bytes.fromhex(f"{abs(total):07d}" + ("D" if total < 0 else "C"))
    return ebc("T") + ebc(f"{count:03d}") + packed


def run(tmp_path, records, *extra):
    cpy = tmp_path / "t.cpy"
    cpy.write_text(CPY, "utf-8")
    inp = tmp_path / "T.DAT"
    inp.write_bytes(b"".join(records))
    out = tmp_path / "t.jsonl"
    summ = tmp_path / "s.json"
    args = [
        "--copybook", str(cpy), "--encoding", "cp930", "--recfm", "F", "--lrecl", "8",
        "--record-type-field", "H-TYPE",
        "--record-type", "H=HDR:header", "--record-type", "D=DAT", "--record-type", "T=TRL:trailer",
        "--record-count-field", "T-COUNT", "--control-total", "T-TOTAL=AMT",
        "--summary-json", str(summ), str(inp), "-o", str(out), *extra,
    ]  # fmt: skip
    code = main(args)
    s = json.loads(summ.read_text("utf-8")) if summ.exists() else None
    return code, out, s


def states(s) -> dict:
    return {(c["name"], c["trailer_field"]): c["state"] for c in s["trailer_checks"]}


def test_matching_trailer_is_ok(tmp_path):
    code, out, s = run(tmp_path, [hdr(), dat(100), dat(-30), trl(2, 70)])
    assert code == EXIT_OK
    assert set(states(s).values()) == {"ok"}


def test_count_mismatch_is_exit_6_and_outputs_are_written(tmp_path, capsys):
    code, out, s = run(tmp_path, [hdr(), dat(100), dat(-30), trl(3, 70)])
    assert code == EXIT_CONTROL
    assert out.exists() and len(out.read_text().splitlines()) == 2
    assert states(s)[("record_count", "T-COUNT")] == "mismatch"
    assert "control mismatch" in capsys.readouterr().err


def test_count_includes_quarantined_data_records(tmp_path):
    code, out, s = run(tmp_path, [hdr(), dat(100), dat(5, bad=True), trl(2, 100)])
    assert states(s)[("record_count", "T-COUNT")] == "ok"
    # the unreadable amount makes the total unverified, not a mismatch: exit 0
    assert states(s)[("sum", "T-TOTAL")] == "unverified"
    assert code == EXIT_OK


def test_total_mismatch_without_unreadable_values_is_exit_6(tmp_path):
    code, out, s = run(tmp_path, [hdr(), dat(100), dat(-30), trl(2, 71)])
    assert code == EXIT_CONTROL
    assert states(s)[("sum", "T-TOTAL")] == "mismatch"


@pytest.mark.parametrize("missing", ["header", "trailer"])
def test_missing_declared_header_or_trailer_is_exit_6(tmp_path, missing):
    recs = [hdr(), dat(1), trl(1, 1)]
    recs = recs[1:] if missing == "header" else recs[:-1]
    code, out, s = run(tmp_path, recs)
    assert code == EXIT_CONTROL
    assert "mismatch" in states(s).values()


def test_merged_byte_range_parts_keep_the_states():
    a = DecodeSummary("f", "cp930", "F", 8, header_records=1, data_records=2, header_declared=True)
    b = DecodeSummary("f", "cp930", "F", 8, trailer_records=1, trailer_declared=True)
    b.trailer, b.trailers_seen, b.record_count_field = {"T-COUNT": 3}, 1, "T-COUNT"
    a.record_count_field = "T-COUNT"
    m = merge_summaries([a, b])
    assert [(c.name, c.state) for c in m.trailer_checks] == [("record_count", "mismatch")]
    assert m.control_mismatch
    again = DecodeSummary.from_dict(m.to_dict())
    assert again.header_declared and again.trailer_declared
