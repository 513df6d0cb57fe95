"""Open-system files and file-level safety through ``ikou decode`` (files built byte by byte):
LF / CRLF text in utf-8, cp932 (外字 table and policies), euc-jp, latin1; ASCII overpunch; short
lines; record types padded; parent / child segments; outputs never equal to the input, written
all or nothing; the one-line hint when one problem covers most records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ikou.mainframe.cli import EXIT_FORMAT, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main

CPY = """\
       01  T-REC.
           05  T-ID      PIC 9(3).
           05  T-NAME    PIC X(12).
           05  T-AMT     PIC S9(3)V99.
           05  T-NOTE    PIC X(6).
"""


def run(tmp_path: Path, data: bytes, *args: str, cpy: str = CPY, out="out.jsonl"):
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    cb = tmp_path / "t.cpy"
    cb.write_text(cpy, encoding="utf-8")
    o = tmp_path / out
    code = main([str(src), "-o", str(o), "--copybook", str(cb), *args])
    rows = []
    if o.exists() and o.suffix == ".jsonl":
        rows = [json.loads(x) for x in o.read_text(encoding="utf-8").splitlines()]
    return code, rows, o


def findings(o: Path) -> list[dict]:
    p = Path(str(o) + ".findings.jsonl")
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def quarantine(o: Path) -> list[dict]:
    p = Path(str(o) + ".quarantine.jsonl")
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def line(i: int, name: str, amt: str, note: str, enc: str) -> bytes:
    return f"{i:03d}".encode() + name.encode(enc).ljust(12, b" ") + amt.encode() + note.encode()


@pytest.mark.parametrize("enc", ["utf-8", "cp932", "euc-jp"])
@pytest.mark.parametrize("recfm,eol", [("LF", b"\n"), ("CRLF", b"\r\n")])
def test_japanese_text_lines(tmp_path, enc, recfm, eol):
    pyenc = {"utf-8": "utf-8", "cp932": "cp932", "euc-jp": "euc_jp"}[enc]
    body = [
        line(1, "見本太郎", "1234}", "NOTE1", pyenc),  # -123.40 (ASCII overpunch })
        line(2, "ｶﾅ abc", "0000A", "NOTE2", pyenc),  # +0.01
        line(3, "架空", "9999R", "N3", pyenc),  # -999.99
    ]
    data = b"\xef\xbb\xbf" * (enc == "utf-8") + eol.join(body) + eol + b"\x1a"
    code, rows, o = run(tmp_path, data, "--encoding", enc, "--recfm", recfm)
    assert code == EXIT_OK
    assert [r["T-NAME"] for r in rows] == ["見本太郎", "ｶﾅ abc", "架空"]
    assert [Decimal(str(r["T-AMT"])) for r in rows] == [
        Decimal("-123.40"),
        Decimal("0.01"),
        Decimal("-999.99"),
    ]
    assert [r["T-NOTE"] for r in rows] == ["NOTE1", "NOTE2", "N3"]
    first = 3 if enc == "utf-8" else 0  # the BOM is skipped; _offset stays absolute
    assert rows[0]["_offset"] == first
    assert rows[1]["_offset"] == first + len(body[0]) + len(eol)


def test_short_lines_null_the_missing_fields_with_a_finding(tmp_path):
    data = b"001ABC\n002LONGER NAME 02345NOTE\n003" + b"X" * 12 + b"12\n"
    code, rows, o = run(tmp_path, data, "--encoding", "ascii", "--recfm", "LF")
    assert code == EXIT_OK
    assert [(r["T-NAME"], r["T-AMT"], r["T-NOTE"]) for r in rows] == [
        ("ABC", None, None),  # text partly there (trailing spaces stripped) keeps what is there
        ("LONGER NAME", 23.45, "NOTE"),
        ("X" * 12, None, None),  # a number cut off is null
    ]
    f = findings(o)
    assert [(x["_record"], x["reason"], x["field"]) for x in f] == [
        (0, "short_record", "T-AMT"),
        (2, "short_record", "T-AMT"),
    ]


def test_text_recfm_with_ebcdic_is_exit_2(tmp_path):
    code, _, o = run(tmp_path, b"001\n", "--encoding", "cp037", "--recfm", "LF")
    assert code == EXIT_USAGE and not o.exists()


def test_latin1_fixed_records_and_bad_utf8(tmp_path):
    rec = b"001" + "Zoë Ørsted".encode("latin1").ljust(12) + b"0010{" + b"NOTE  "
    code, rows, _ = run(tmp_path, rec * 2, "--encoding", "latin1", "--recfm", "FB")
    assert code == EXIT_OK and rows[0]["T-NAME"] == "Zoë Ørsted" and rows[0]["T-AMT"] == 1.0
    bad = b"001" + b"\xc3\x28BAD".ljust(12) + b"0010{" + b"NOTE  "  # invalid UTF-8
    code, rows, o = run(tmp_path, bad + rec, "--encoding", "utf-8", "--recfm", "FB")
    q = quarantine(o)
    assert code == EXIT_OK and rows == []  # the latin1 record is no UTF-8 either
    assert [(x["reason"], x["detail"].split(":")[0]) for x in q] == [
        ("undecodable_dbcs", "byte 3"),
        ("undecodable_dbcs", "byte 5"),
    ]


CPY932 = """\
       01  G-REC.
           05  G-ID      PIC 9(2).
           05  G-NAME    PIC X(8).
"""


@pytest.mark.parametrize(
    "policy,expect,quarantined",
    [
        ("placeholder", ["髙木", "〓田"], 0),
        ("pua", ["髙木", "\ue001田"], 0),
        ("quarantine", ["髙木"], 1),
    ],
)
def test_cp932_user_defined_area_through_the_gaiji_table(tmp_path, policy, expect, quarantined):
    table = tmp_path / "gaiji.csv"
    table.write_text(
        "encoding,legacy_code,unicode,mj_name,note\ncp932,F040,U+9AD9,,\n", encoding="utf-8"
    )
    data = b"01\xf0\x40" + "木".encode("cp932") + b"    " + b"02\xf0\x41" + "田".encode("cp932")
    data += b"    "
    code, rows, o = run(
        tmp_path,
        data,
        "--encoding",
        "cp932",
        "--gaiji",
        str(table),
        "--gaiji-policy",
        policy,
        "--recfm",
        "FB",
        cpy=CPY932,
    )
    assert code == EXIT_OK
    assert [r["G-NAME"] for r in rows] == expect
    assert len(quarantine(o)) == quarantined


CPY_TYPES = """\
       01  H-REC.
           05  H-TYPE    PIC X(3).
           05  H-DATE    PIC X(8).
       01  D-REC.
           05  D-TYPE    PIC X(3).
           05  D-KEY     PIC X(4).
           05  D-VAL     PIC 9(3).
       01  C-REC.
           05  C-TYPE    PIC X(3).
           05  C-ITEM    PIC X(7).
"""


def test_record_types_padded_and_parent_child_segments(tmp_path):
    lines = [
        b"C  ORPHAN",  # a child before any parent
        b"H  20261204",
        b"D\x00\x00K001123",  # type "D" padded with 0x00
        b"C  ITEM-A",
        b"C  ITEM-B",
        b"D  K002456",
        b"C  ITEM-C",
    ]
    code, rows, o = run(
        tmp_path,
        b"\n".join(lines) + b"\n",
        "--encoding",
        "ascii",
        "--recfm",
        "LF",
        "--record-type-field",
        "H-TYPE",
        "--record-type",
        "H=H-REC:header",
        "--record-type",
        "D=D-REC",
        "--record-type",
        "C=C-REC",
        "--segment-parent",
        "C-REC=D-REC",
        "--segment-key",
        "D-REC=D-KEY",
        cpy=CPY_TYPES,
    )
    assert code == EXIT_OK
    d = [json.loads(x) for x in (tmp_path / "out.D-REC.jsonl").read_text().splitlines()]
    c = [json.loads(x) for x in (tmp_path / "out.C-REC.jsonl").read_text().splitlines()]
    assert [r["D-KEY"] for r in d] == ["K001", "K002"]
    assert [(r["C-ITEM"], r["_parent_record"], r["_parent_key"]) for r in c] == [
        ("ITEM-A", 2, "K001"),
        ("ITEM-B", 2, "K001"),
        ("ITEM-C", 5, "K002"),
    ]
    assert [(q["_record"], q["reason"]) for q in quarantine(tmp_path / "out.jsonl")] == [
        (0, "orphan_segment")
    ]


# ------------------------------------------------------------------ file-level safety

CPY_E = """\
       01  E-REC.
           05  E-NAME    PIC X(4).
           05  E-NUM     PIC 9(2).
"""


def test_output_equal_to_the_input_is_exit_2_and_nothing_is_written(tmp_path):
    src = tmp_path / "in.dat"
    data = b"\xc1\xc2\xc3\xc4\xf1\xf2" * 3
    src.write_bytes(data)
    cb = tmp_path / "e.cpy"
    cb.write_text(CPY_E, encoding="utf-8")
    for target in (["-o", str(src.with_suffix(".jsonl")), "--quarantine", str(src)],):
        code = main([str(src), *target, "--copybook", str(cb), "--encoding", "cp037"])
        assert code == EXIT_USAGE
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    code = main([str(src), "-o", str(link), "--copybook", str(cb), "--encoding", "cp037"])
    assert code == EXIT_USAGE
    assert src.read_bytes() == data
    assert not src.with_suffix(".jsonl").exists()


@pytest.mark.parametrize(
    "opt",
    [
        ["--lrecl", "0"],
        ["--lrecl", "32761"],
        ["--chunk-mb", "0"],
        ["--chunk-mb", "1025"],
        ["--file-start-offset", "-1"],
        ["--record-end-offset", "-2"],
    ],
)
def test_numeric_options_are_bounded(tmp_path, opt):
    code, _, o = run(tmp_path, b"\xc1" * 6, "--encoding", "cp037", *opt, cpy=CPY_E)
    assert code == EXIT_USAGE and not o.exists()


@pytest.mark.parametrize("option", ["--gaiji-out", "--summary-json"])
def test_outputs_are_published_only_when_all_are_complete(tmp_path, option):
    """An output into a folder that does not exist fails after the data was decoded: no
    output file may appear (exit 4)."""
    code, _, o = run(
        tmp_path,
        b"\xc1\xc2\xc3\xc4\xf1\xf2" * 3,
        "--encoding",
        "cp037",
        option,
        str(tmp_path / "missing" / "g.out"),
        cpy=CPY_E,
        out="out.parquet",
    )
    assert code == EXIT_INPUT
    assert not o.exists()
    assert not Path(str(o) + ".quarantine.jsonl").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_one_problem_on_most_records_gets_one_stderr_line(tmp_path, capsys):
    good = b"\xc1\xc2\xc3\xc4\xf1\xf2"
    bad = b"\xc1\xc2\xc3\xc4\xf1\x41"  # E-NUM's second byte is no zoned digit
    code, _, o = run(tmp_path, bad * 3 + good, "--encoding", "cp037", cpy=CPY_E)
    err = capsys.readouterr().err
    assert code == EXIT_OK
    assert "in.txt: 3 of 4 records: invalid_zoned at byte 5 — wrong copybook or code page?" in err
    code, _, o = run(tmp_path, bad + good * 3, "--encoding", "cp037", cpy=CPY_E)
    assert "wrong copybook" not in capsys.readouterr().err


def test_compressed_input_through_the_cli(tmp_path):
    import gzip
    import lzma

    rec = b"\xc1\xc2\xc3\xc4\xf1\xf2"
    code, rows, _ = run(tmp_path, gzip.compress(rec * 4), "--encoding", "cp037", cpy=CPY_E)
    assert code == EXIT_OK and [r["E-NUM"] for r in rows] == [12] * 4
    code, rows, o = run(tmp_path, lzma.compress(rec * 4), "--encoding", "cp037", cpy=CPY_E)
    assert code == EXIT_FORMAT


def test_parquet_output_of_a_western_file(tmp_path):
    code, _, o = run(
        tmp_path, b"\xc1\x81\x4a\x5a\xf1\xf2", "--encoding", "IBM-1047", cpy=CPY_E, out="o.parquet"
    )
    assert code == EXIT_OK
    assert pq.read_table(o).to_pylist()[0]["E-NAME"] == "Aa¢!"


def test_the_hint_also_counts_nulled_fields(tmp_path, capsys):
    bad = b"\xc1\xc2\xc3\xc4\xf1\x41"
    code, rows, _ = run(tmp_path, bad * 5, "--encoding", "cp037", "--bad-field", "null", cpy=CPY_E)
    assert code == EXIT_OK and [r["E-NUM"] for r in rows] == [None] * 5
    assert "5 of 5 records: invalid_zoned at byte 5" in capsys.readouterr().err


CPY_NUMTYPE = """\
       01  A-REC.
           05  A-TYPE    PIC 9(2).
           05  A-TEXT    PIC X(5).
       01  B-REC.
           05  B-TYPE    PIC 9(2).
           05  B-NUM     PIC S9(3).
"""


def test_numeric_record_type_in_an_ascii_file(tmp_path):
    data = b"01HELLO\n02123\n0201L\n03XXXXX\n"
    code, _, o = run(
        tmp_path,
        data,
        "--encoding",
        "utf-8",
        "--recfm",
        "LF",
        "--record-type-field",
        "A-TYPE",
        "--record-type",
        "1=A-REC",
        "--record-type",
        "2=B-REC",
        cpy=CPY_NUMTYPE,
    )
    assert code == EXIT_OK
    a = [json.loads(x) for x in (tmp_path / "out.A-REC.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "out.B-REC.jsonl").read_text().splitlines()]
    assert [r["A-TEXT"] for r in a] == ["HELLO"]
    assert [r["B-NUM"] for r in b] == [123, -13]
    assert [(q["_record"], q["reason"]) for q in quarantine(o)] == [(3, "unknown_record_type")]
