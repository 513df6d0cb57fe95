"""`ikou decode` as a module: exit codes, outputs, summary line, no heavy imports."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ikou.mainframe.cli import (
    EXIT_COPYBOOK,
    EXIT_FORMAT,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    add_decode_parser,
    main,
)
from ikou.mainframe.encode import frame_records

from .conftest import DATA, PEOPLE, juki_records

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def juki_file(tmp_path, juki_cb, cp930):
    recs = juki_records(juki_cb, cp930)
    r = bytearray(recs[2])
    r[juki_cb.record("JUKI-DATA").field("TAX-AMOUNT").offset] = 0xFA
    recs[2] = bytes(r)
    p = tmp_path / "JUKI.DAT"
    p.write_bytes(frame_records(recs, "FB"))
    return p


BASE = [
    "--copybook",
    str(DATA / "juki.cpy"),
    "--encoding",
    "cp930",
    "--record-type-field",
    "REC-TYPE",
    "--record-type",
    "H=JUKI-HDR:header",
    "--record-type",
    "D=JUKI-DATA",
    "--record-type",
    "T=JUKI-TRL:trailer",
    "--record-count-field",
    "TRL-COUNT",
    "--control-total",
    "TRL-TAX-TOTAL=TAX-AMOUNT",
    "--mixed-field",
    "ADDRESS",
]


def test_parquet_output_and_summary_line(juki_file, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    rc = main(BASE + [str(juki_file), "-o", str(out), "--summary-json", str(tmp_path / "s.json")])
    cap = capsys.readouterr()
    assert rc == EXIT_OK
    assert "records=5 out=2 header=1 trailer=1 quarantined=1" in cap.out
    assert "MB/s=" in cap.out and "seconds=" in cap.out and "bytes=600" in cap.out
    assert cap.out.count("\n") == 1
    t = pq.read_table(out)
    assert t.column("SHIMEI-KANJI").to_pylist() == [PEOPLE[0]["KANJI"], PEOPLE[2]["KANJI"]]
    q = [
        json.loads(x) for x in (tmp_path / "out.parquet.quarantine.jsonl").read_text().splitlines()
    ]
    assert [(x["_record"], x["reason"], x["field"]) for x in q] == [(2, "bad_nibble", "TAX-AMOUNT")]
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["accounted"] and s["records_in"] == 5 and s["trailer_ok"] is False


def test_jsonl_output_nested(juki_file, tmp_path):
    out = tmp_path / "out.jsonl"
    qp = tmp_path / "q.jsonl"
    assert main(BASE + [str(juki_file), "-o", str(out), "--quarantine", str(qp)]) == EXIT_OK
    rows = [
        json.loads(x, parse_float=Decimal) for x in out.read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) == 2
    r = rows[0]
    assert r["BIRTH-DATE"] == {"BIRTH-ERA": 4, "BIRTH-YMD": 520101}
    assert r["TAX-AMOUNT"] == Decimal("12345.67") and r["SHIMEI-KANA"] == PEOPLE[0]["KANA"]
    assert '"TAX-AMOUNT":12345.67' in out.read_text(encoding="utf-8").splitlines()[0]
    assert r["_record"] == 1
    assert qp.exists()


def test_jsonl_occurs_as_arrays(tmp_path, cp930):
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record

    from .conftest import fixed

    text = fixed(
        "01  R.",
        "    05  ID PIC 9(2).",
        "    05  KID OCCURS 2.",
        "        10  NM PIC X(2).",
        "        10  AGE PIC 9(2).",
    )
    cpy = tmp_path / "r.cpy"
    cpy.write_text(text)
    raw = encode_record(
        parse_copybook(text).record(), {"ID": 7, "NM": ["AA", "BB"], "AGE": [1, 2]}, cp930
    )
    src = tmp_path / "R.DAT"
    src.write_bytes(raw)
    out = tmp_path / "r.jsonl"
    assert (
        main(["--copybook", str(cpy), "--encoding", "cp930", str(src), "-o", str(out)]) == EXIT_OK
    )
    obj = json.loads(out.read_text())
    assert obj["KID"] == [{"NM": "AA", "AGE": 1}, {"NM": "BB", "AGE": 2}] and obj["ID"] == 7


def test_csv_output(juki_file, tmp_path):
    out = tmp_path / "out.csv"
    assert main(BASE + [str(juki_file), "-o", str(out)]) == EXIT_OK
    raw = out.read_bytes()
    assert b"\r\n" in raw
    lines = raw.decode("utf-8").split("\r\n")
    assert lines[0].startswith('"REC-TYPE","ATENA-NO"')
    assert len([x for x in lines if x]) == 3


def test_exit_codes(juki_file, tmp_path, capsys):
    out = str(tmp_path / "o.parquet")
    bad = tmp_path / "bad.cpy"
    bad.write_text("000100 01  REC.\n000200     05  A  PIC 9(3)Q.\n")
    assert (
        main(["--copybook", str(bad), "--encoding", "cp930", str(juki_file), "-o", out])
        == EXIT_COPYBOOK
    )
    err = capsys.readouterr().err
    assert "bad.cpy:2:" in err and "broken copybook" in err
    assert main(BASE + [str(tmp_path / "missing.dat"), "-o", out]) == EXIT_INPUT
    assert (
        main(BASE[:4] + ["--recfm", "V", str(juki_file), "-o", out, "--layout", "JUKI-DATA"])
        == EXIT_FORMAT
    )
    assert "not a RECFM V file" in capsys.readouterr().err
    assert main(BASE + ["--lrecl", "50", str(juki_file), "-o", out]) == EXIT_FORMAT
    assert main(BASE + [str(juki_file), "-o", str(tmp_path / "o.xlsx")]) == EXIT_USAGE
    assert main(BASE + ["--record-type", "nonsense", str(juki_file), "-o", out]) == EXIT_USAGE
    assert (
        main(BASE + ["--gaiji", str(tmp_path / "none.csv"), str(juki_file), "-o", out])
        == EXIT_INPUT
    )
    assert (
        main(BASE + [str(juki_file), "-o", str(tmp_path / "no" / "dir" / "o.parquet")])
        == EXIT_INPUT
    )
    with pytest.raises(SystemExit) as ei:
        main(["--encoding", "cp930"])
    assert ei.value.code == EXIT_USAGE
    assert not list(tmp_path.glob("*.tmp"))


def test_add_decode_parser_wiring(juki_file, tmp_path):
    parser = argparse.ArgumentParser(prog="ikou")
    sub = parser.add_subparsers(dest="command", required=True)
    add_decode_parser(sub)
    args = parser.parse_args(
        ["decode"] + BASE + [str(juki_file), "-o", str(tmp_path / "x.parquet")]
    )
    assert args.func(args) == EXIT_OK


def test_subprocess_imports_no_airflow_gx_or_pandas(juki_file, tmp_path, cp930):
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record

    from .conftest import fixed

    text = fixed(
        "01  R.", "    05  ID PIC 9(2).", "    05  NM PIC X(2) OCCURS 2.", "    05  K PIC N(2)."
    )
    cpy = tmp_path / "r.cpy"
    cpy.write_text(text)
    lay = parse_copybook(text).record()
    src = tmp_path / "R.DAT"
    src.write_bytes(
        encode_record(lay, {"ID": 1, "NM": ["AB", "CD"], "K": b"\x69\x41"}, cp930) + b"\xc1" * 10
    )
    runs = [
        BASE + [str(juki_file), "-o", str(tmp_path / f"s{ext}")]
        for ext in (".parquet", ".jsonl", ".csv")
    ]
    runs += [
        [
            "--copybook",
            str(cpy),
            "--encoding",
            "cp930",
            str(src),
            "-o",
            str(tmp_path / f"r{ext}"),
            "--gaiji-out",
            str(tmp_path / f"g{ext}.parquet"),
        ]
        for ext in (".parquet", ".jsonl", ".csv")
    ]
    code = (
        "import sys\n"
        "from ikou.mainframe.cli import main\n"
        f"rcs = [main(a) for a in {runs!r}]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'great_expectations', 'pandas'))\n"
        "print('RC', rcs, 'BAD', bad)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT / "include"), "PATH": "/usr/bin:/bin"},
    )
    assert "RC [0, 0, 0, 0, 0, 0] BAD []" in res.stdout, res.stdout + res.stderr
    assert json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])["NM"] == ["AB", "CD"]
    # 0x6941 in the first record; the second (bytes C1C1) is quarantined but its codes are reported too
    assert pq.read_table(tmp_path / "g.parquet.parquet").column("legacy_code").to_pylist() == [
        "6941",
        "C1C1",
        "C1C1",
    ]
    assert '"[""AB"",""CD""]"' in (tmp_path / "r.csv").read_text()
