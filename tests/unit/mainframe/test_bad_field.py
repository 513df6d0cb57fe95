"""One bad field is not one lost record (issue 9 §5): --bad-field quarantine|null, per field
NAME=null, findings with file, record, offset, field, reason and raw hex in OUT.findings.jsonl.
Files built byte by byte; all data synthetic."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ikou.mainframe.cli import EXIT_OK, EXIT_USAGE, main

from .conftest import fixed

CPY = fixed(
    "01  R.",
    "    05  KEY     PIC 9(3).",
    "    05  AMT     PIC S9(3)V99 COMP-3.",
    "    05  QTY     PIC 9(2).",
    "    05  NOTE    PIC X(4).",
)
GOOD = "001".encode("cp037") + bytes.fromhex("01234C") + "05".encode("cp037") + b"\xc1\xc2\x40\x40"
BAD_AMT = (
    "002".encode("cp037") + bytes.fromhex("01FA4C") + "07".encode("cp037") + b"\xc3\x40\x40\x40"
)
BAD_BOTH = "003".encode("cp037") + bytes.fromhex("0000AC") + b"\xf1\x4b" + b"\xc4\x40\x40\x40"
BLANK_QTY = "004".encode("cp037") + bytes.fromhex("00001C") + b"\x40\x40" + b"\xc5\x40\x40\x40"


def run(tmp_path, *extra, records=(GOOD, BAD_AMT, BAD_BOTH, BLANK_QTY)):
    cpy = tmp_path / "r.cpy"
    cpy.write_text(CPY, "utf-8")
    inp = tmp_path / "R.DAT"
    inp.write_bytes(b"".join(records))
    out = tmp_path / "r.jsonl"
    code = main(
        [
            "--copybook",
            str(cpy),
            "--encoding",
            "cp930",
            "--recfm",
            "F",
            str(inp),
            "-o",
            str(out),
            *extra,
        ]
    )

    def read(p):
        return [json.loads(x) for x in p.read_text("utf-8").splitlines()] if p.exists() else []

    return (
        code,
        read(out),
        read(tmp_path / "r.jsonl.quarantine.jsonl"),
        read(tmp_path / "r.jsonl.findings.jsonl"),
    )


def test_default_quarantines_the_record(tmp_path):
    code, rows, q, f = run(tmp_path)
    assert code == EXIT_OK
    assert [r["KEY"] for r in rows] == [1]
    assert [(x["_record"], x["field"], x["reason"]) for x in q] == [
        (1, "AMT", "bad_nibble"),
        (2, "AMT", "bad_nibble"),
        (3, "QTY", "blank_numeric"),
    ]
    assert f == []


def test_null_keeps_the_record_and_names_the_field(tmp_path):
    code, rows, q, f = run(tmp_path, "--bad-field", "null")
    assert code == EXIT_OK
    by = {r["KEY"]: r for r in rows}
    assert sorted(by) == [1, 2, 3]
    assert by[1]["AMT"] == Decimal("12.34") or Decimal(str(by[1]["AMT"])) == Decimal("12.34")
    assert by[2]["AMT"] is None and by[2]["QTY"] == 7 and by[2]["NOTE"] == "C"
    assert by[3]["AMT"] is None and by[3]["QTY"] is None
    # --blank-numeric keeps deciding the all-blank case (default: quarantine)
    assert [(x["_record"], x["reason"]) for x in q] == [(3, "blank_numeric")]
    got = [
        (x["_record"], x["_offset"], x["field"], x["reason"], x["byte"], x["raw_hex"]) for x in f
    ]
    assert got == [
        (1, 12, "AMT", "bad_nibble", 4, "01FA4C"),
        (2, 24, "AMT", "bad_nibble", 5, "0000AC"),
        (2, 24, "QTY", "invalid_zoned", 7, "F14B"),
    ]
    assert all(x["_file"].endswith("R.DAT") for x in f)


def test_blank_numeric_null_wins_for_the_blank_case(tmp_path):
    code, rows, q, f = run(tmp_path, "--bad-field", "null", "--blank-numeric", "null")
    assert q == [] and len(rows) == 4
    assert all(x["reason"] != "blank_numeric" for x in f)


def test_per_field_null(tmp_path):
    code, rows, q, f = run(tmp_path, "--bad-field", "AMT=null")
    assert [r["KEY"] for r in rows] == [1, 2]
    assert [(x["_record"], x["field"], x["reason"]) for x in q] == [
        (2, "QTY", "invalid_zoned"),
        (3, "QTY", "blank_numeric"),
    ]
    assert [(x["_record"], x["field"]) for x in f] == [(1, "AMT")]  # record 2 is quarantined whole


def test_per_field_quarantine_over_file_null(tmp_path):
    code, rows, q, f = run(tmp_path, "--bad-field", "null", "--bad-field", "QTY=quarantine")
    assert [(x["_record"], x["field"]) for x in q] == [(2, "QTY"), (3, "QTY")]
    assert [r["KEY"] for r in rows] == [1, 2]


@pytest.mark.parametrize("bad", ["maybe", "AMT=drop", "=null", "NOPE=null"])
def test_bad_field_values_and_unknown_names_are_exit_2(tmp_path, bad, capsys):
    code, *_ = run(tmp_path, "--bad-field", bad)
    assert code == EXIT_USAGE
    assert "--bad-field" in capsys.readouterr().err


def test_null_in_an_occurs_table_nulls_the_element_only(tmp_path):
    cpy = tmp_path / "t.cpy"
    cpy.write_text(fixed("01  R.", "    05  V  PIC 9(2) OCCURS 3."), "utf-8")
    inp = tmp_path / "T.DAT"
    inp.write_bytes("01".encode("cp037") + b"\xf2\x4b" + "03".encode("cp037"))
    out = tmp_path / "t.jsonl"
    assert (
        main(
            [
                "--copybook",
                str(cpy),
                "--encoding",
                "cp930",
                "--recfm",
                "F",
                str(inp),
                "-o",
                str(out),
                "--bad-field",
                "V=null",
            ]
        )
        == EXIT_OK
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0]["V"] == [1, None, 3]
    f = [json.loads(x) for x in (tmp_path / "t.jsonl.findings.jsonl").read_text().splitlines()]
    assert [(x["field"], x["byte"], x["raw_hex"]) for x in f] == [("V", 3, "F24B")]


def test_decode_to_parquet_writes_findings_beside_the_quarantine(tmp_path):
    import pyarrow.parquet as pq

    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_to_parquet
    from ikou.mainframe.engine_options import DecodeOptions

    cb = parse_copybook(CPY)
    src = tmp_path / "R.DAT"
    src.write_bytes(GOOD + BAD_AMT)
    opts = DecodeOptions(encoding="cp930", recfm="F", bad_fields={"AMT": "null"})
    fpath = tmp_path / "q" / "R.findings.jsonl"
    fpath.parent.mkdir()
    s = decode_to_parquet(
        src, cb, opts, tmp_path / "r.parquet", tmp_path / "q" / "R.jsonl", findings_path=fpath
    )
    assert s.findings == {"bad_nibble": 1} and s.records_out == 2 and s.quarantined == 0
    assert pq.read_table(tmp_path / "r.parquet").column("AMT").to_pylist()[1] is None
    rows = [json.loads(x) for x in fpath.read_text().splitlines()]
    assert [(r["_record"], r["field"], r["raw_hex"]) for r in rows] == [(1, "AMT", "01FA4C")]
    assert s.to_dict()["findings"] == {"bad_nibble": 1}


def test_null_in_a_nested_variable_table(tmp_path):
    from ikou.mainframe.encode import frame_records

    cpy = tmp_path / "n.cpy"
    cpy.write_text(
        fixed(
            "01  R.",
            "    05  C  PIC 9.",
            "    05  T  OCCURS 0 TO 2 DEPENDING ON C.",
            "        10  D  PIC 9.",
            "        10  U  OCCURS 0 TO 2 DEPENDING ON D.",
            "            15  V  PIC 9.",
        ),
        "utf-8",
    )
    inp = tmp_path / "N.DAT"
    inp.write_bytes(frame_records(["22".encode("cp037") + b"\xf1\x4b" + "13".encode("cp037")], "V"))
    out = tmp_path / "n.jsonl"
    args = ["--copybook", str(cpy), "--encoding", "cp930", "--recfm", "V", str(inp), "-o", str(out)]
    assert main([*args, "--bad-field", "V=null"]) == EXIT_OK
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [[u["V"] for u in t["U"]] for t in rows[0]["T"]] == [[1, None], [3]]
    f = [json.loads(x) for x in (tmp_path / "n.jsonl.findings.jsonl").read_text().splitlines()]
    assert [(x["field"], x["byte"], x["raw_hex"]) for x in f] == [("V", 3, "4B")]
