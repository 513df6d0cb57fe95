"""Copybooks as written (issue 9 §3): every feature through ``ikou decode`` on files built byte
by byte, plus the layout (offsets, sizes) each feature gives. All data synthetic."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ikou.mainframe.cli import EXIT_COPYBOOK, EXIT_OK, EXIT_USAGE, main
from ikou.mainframe.copybook import CopybookError, parse_copybook

from .conftest import fixed

E = {c: bytes([0xF0 + i]) for i, c in enumerate("0123456789")}


def ebc(text: str) -> bytes:
    """ASCII letters, digits and a few symbols -> EBCDIC (cp037 invariant subset)."""
    return text.encode("cp037")


def decode(tmp_path, cpy_lines, data: bytes, *extra, fmt=None, name="in.dat"):
    """Run ``ikou decode`` to JSONL; returns (exit code, rows, stderr text via capsys-less)."""
    cpy = tmp_path / "rec.cpy"
    cpy.write_text(cpy_lines if isinstance(cpy_lines, str) else fixed(*cpy_lines), "utf-8")
    inp = tmp_path / name
    inp.write_bytes(data)
    out = tmp_path / "out.jsonl"
    args = ["--copybook", str(cpy), "--encoding", "cp930", "--recfm", "F", str(inp), "-o", str(out)]
    args += list(extra)
    if fmt:
        args += ["--copybook-format", fmt]
    code = main(args)
    rows = []
    if out.exists():
        rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    return code, rows


# ------------------------------------------------------------------------------ layouts


def layout(*lines, **kw):
    return parse_copybook(fixed(*lines), **kw).record()


def test_binary_19_to_38_digits_sized_as_cobrix_and_decoded(tmp_path):
    lay = layout("01  R.", "    05  A  PIC S9(19) COMP.", "    05  B  PIC 9(38) COMP-5.")
    assert (lay.field("A").size, lay.field("B").size) == (9, 16)
    a = (-(10**18) - 7).to_bytes(9, "big", signed=True)
    b = (10**37 + 5).to_bytes(16, "big")
    code, rows = decode(
        tmp_path, ["01  R.", "    05  A  PIC S9(19) COMP.", "    05  B  PIC 9(38) COMP-5."], a + b
    )
    assert code == EXIT_OK
    assert Decimal(rows[0]["A"]) == -(10**18) - 7
    assert Decimal(rows[0]["B"]) == 10**37 + 5


def test_comp5_full_range_and_comp0(tmp_path):
    cpy = [
        "01  R.",
        "    05  A  PIC S9(4) COMP-5.",
        "    05  B  PIC 9(4) COMP-5.",
        "    05  C  PIC S9(4) COMP-0.",
    ]
    data = (
        (-32768).to_bytes(2, "big", signed=True)
        + (65535).to_bytes(2, "big")
        + (-2).to_bytes(2, "big", signed=True)
    )
    code, rows = decode(tmp_path, cpy, data)
    assert code == EXIT_OK
    assert (rows[0]["A"], rows[0]["B"], rows[0]["C"]) == (-32768, 65535, -2)


def test_sign_separate_sized_with_its_byte_even_without_s(tmp_path, capsys):
    cpy = [
        "01  R.",
        "    05  A  PIC 99V99 SIGN LEADING SEPARATE.",
        "    05  B  PIC X(2).",
        "    05  C  PIC S9(3) SIGN TRAILING SEPARATE CHARACTER.",
    ]
    lay = layout(*cpy)
    assert [(f.name, f.offset, f.size) for f in lay.fields] == [
        ("A", 0, 5),
        ("B", 5, 2),
        ("C", 7, 4),
    ]
    data = ebc("-1234") + ebc("OK") + ebc("007+")
    code, rows = decode(tmp_path, cpy, data)
    assert code == EXIT_OK
    assert Decimal(str(rows[0]["A"])) == Decimal("-12.34")
    assert rows[0]["B"] == "OK" and rows[0]["C"] == 7
    err = capsys.readouterr().err
    assert "copybook warning" in err and ":2:" in err and "SIGN LEADING SEPARATE" in err


def test_synchronized_inserts_ibm_slack_bytes(tmp_path):
    cpy = [
        "01  R.",
        "    05  A  PIC X.",
        "    05  B  PIC S9(4) COMP SYNC.",
        "    05  C  PIC X.",
        "    05  D  PIC S9(9) COMP SYNC.",
        "    05  E  PIC X.",
        "    05  F  COMP-2 SYNC.",
    ]
    lay = layout(*cpy)
    assert [(f.name, f.offset) for f in lay.fields] == [
        ("A", 0),
        ("B", 2),
        ("C", 4),
        ("D", 8),
        ("E", 12),
        ("F", 16),
    ]
    assert lay.size == 24
    data = ebc("X") + b"\x00" + (300).to_bytes(2, "big") + ebc("Y") + b"\x00" * 3
    data += (
        (-5).to_bytes(4, "big", signed=True) + ebc("Z") + b"\x00" * 3 + b"\x41\x10" + b"\x00" * 6
    )
    code, rows = decode(tmp_path, cpy, data)
    assert code == EXIT_OK
    r = rows[0]
    assert (r["A"], r["B"], r["C"], r["D"], r["E"], r["F"]) == ("X", 300, "Y", -5, "Z", 1.0)


def test_sync_inside_occurs_pads_each_occurrence():
    lay = layout(
        "01  R.",
        "    05  T OCCURS 2.",
        "        10  A PIC X.",
        "        10  B PIC S9(9) COMP SYNC.",
    )
    b = lay.field("B")
    assert b.offset == 4 and b.dims[0].stride == 8


def test_comp1_comp2_float_formats(tmp_path):
    import struct

    cpy = ["01  R.", "    05  A  COMP-1.", "    05  B  COMP-2."]
    ieee = struct.pack(">f", 1.5) + struct.pack(">d", -2.25)
    code, rows = decode(tmp_path, cpy, ieee, "--float", "ieee")
    assert code == EXIT_OK and (rows[0]["A"], rows[0]["B"]) == (1.5, -2.25)
    le = struct.pack("<f", 1.5) + struct.pack("<d", -2.25)
    code, rows = decode(tmp_path, cpy, le, "--float", "ieee-le")
    assert (rows[0]["A"], rows[0]["B"]) == (1.5, -2.25)
    ibm = b"\x41\x18\x00\x00" + b"\xc1\x24\x00\x00\x00\x00\x00\x00"  # 1.5, -2.25 (base 16)
    code, rows = decode(tmp_path, cpy, ibm)
    assert (rows[0]["A"], rows[0]["B"]) == (1.5, -2.25)


def test_national_is_utf16be_and_pic_n_follows_nsymbol(tmp_path):
    cpy = ["01  R.", "    05  A  PIC N(3) USAGE NATIONAL.", "    05  B  PIC N(2)."]
    data = "試験 ".encode("utf-16-be") + "見本".encode("utf-16-be")
    code, rows = decode(tmp_path, cpy, data, "--nsymbol", "national")
    assert code == EXIT_OK
    assert rows[0] == {
        "A": "試験",
        "B": "見本",
        **{k: rows[0][k] for k in ("_file", "_record", "_offset")},
    }
    # without --nsymbol national, PIC N is host DBCS: the same bytes are another field kind
    assert layout(*cpy).field("B").kind == "dbcs"
    assert layout(*cpy).field("A").kind == "national"


def test_odo_without_m_to(tmp_path):
    cpy = [
        "01  R.",
        "    05  N  PIC 9.",
        "    05  T  PIC X(2) OCCURS 3 DEPENDING ON N.",
        "    05  Z  PIC X.",
    ]
    lay = layout(*cpy)
    assert lay.field("T").dims[0].min == 1 and lay.field("T").dims[0].implied_min
    recs = [ebc("2AABBZ"), ebc("0Z"), ebc("4AABBCCDDZ")]
    cpyp = tmp_path / "odo.cpy"
    cpyp.write_text(fixed(*cpy), "utf-8")
    inp = tmp_path / "odo.dat"
    from ikou.mainframe.encode import frame_records

    inp.write_bytes(frame_records(recs, "V"))
    out = tmp_path / "odo.jsonl"
    code = main(
        ["--copybook", str(cpyp), "--encoding", "cp930", "--recfm", "V", str(inp), "-o", str(out)]
    )
    assert code == EXIT_OK
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [(r["N"], r["T"], r["Z"]) for r in rows] == [(2, ["AA", "BB"], "Z"), (0, [], "Z")]
    q = [json.loads(x) for x in (tmp_path / "odo.jsonl.quarantine.jsonl").read_text().splitlines()]
    assert [x["reason"] for x in q] == ["odo_out_of_range"]
    f = [json.loads(x) for x in (tmp_path / "odo.jsonl.findings.jsonl").read_text().splitlines()]
    assert [(x["_record"], x["field"], x["reason"]) for x in f] == [(1, "N", "odo_count_zero")]


# --------------------------------------------------------------------- source format, COPY


def test_auto_format_accepts_code_from_column_7_and_free(tmp_path):
    col7 = "      01  R.\n      05  A  PIC X(2).\n      * a comment\n       05  B  PIC 9.\n"
    cb = parse_copybook(col7)
    assert [(f.name, f.offset) for f in cb.record().fields] == [("A", 0), ("B", 2)]
    free = "01 R.\n  05 A PIC X(2).\n* comment\n  05 B PIC 9. *> inline\n"
    assert [f.name for f in parse_copybook(free).record().fields] == ["A", "B"]
    with pytest.raises(CopybookError):
        parse_copybook(col7, format="fixed")
    code, rows = decode(tmp_path, col7, ebc("AB7"))
    assert code == EXIT_OK and (rows[0]["A"], rows[0]["B"]) == ("AB", 7)
    code, _ = decode(tmp_path, col7, ebc("AB7"), fmt="fixed")
    assert code == EXIT_COPYBOOK


def test_copy_replacing_from_own_folder_then_copybook_dir(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "ADDR.cpy").write_text(
        fixed("    05  :P:-CITY  PIC X(3).", "    05  :P:-ZIP   PIC 9(3)."), "utf-8"
    )
    (tmp_path / "KEY.cpy").write_text(fixed("    05  KEY-NO  PIC 9(2)."), "utf-8")
    cpy = fixed("01  R.", "    COPY KEY.", "    COPY ADDR REPLACING ==:P:== BY ==HOME==.")
    code, rows = decode(tmp_path, cpy, ebc("07ABC123"), "--copybook-dir", str(lib))
    assert code == EXIT_OK
    assert (rows[0]["KEY-NO"], rows[0]["HOME-CITY"], rows[0]["HOME-ZIP"]) == (7, "ABC", 123)
    code, _ = decode(tmp_path, cpy, ebc("07ABC123"))  # ADDR is not found without the dir
    assert code == EXIT_COPYBOOK


def test_summary_records_every_copy_member_with_its_sha256(tmp_path):
    """A changed COPY member changes the layout as much as a changed copybook: the decode
    summary names and hashes every member expanded, nested ones included (issue 14)."""
    import hashlib

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "ADDR.cpy").write_text(fixed("    05  CITY  PIC X(3).", "    COPY ZIP."), "utf-8")
    (lib / "ZIP.cpy").write_text(fixed("    05  ZIP  PIC 9(3)."), "utf-8")
    (tmp_path / "KEY.cpy").write_text(fixed("    05  KEY-NO  PIC 9(2)."), "utf-8")
    cpy = fixed("01  R.", "    COPY KEY.", "    COPY ADDR.")
    summary = tmp_path / "s.json"
    args = ("--copybook-dir", str(lib), "--summary-json", str(summary))
    code, rows = decode(tmp_path, cpy, ebc("07ABC123"), *args)
    assert code == EXIT_OK and rows[0]["ZIP"] == 123
    members = json.loads(summary.read_text("utf-8"))["copybook"]["members"]
    files = [tmp_path / "KEY.cpy", lib / "ADDR.cpy", lib / "ZIP.cpy"]
    assert members == [
        {
            "path": str(f),
            "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
            "bytes": f.stat().st_size,
        }
        for f in files
    ]
    assert parse_copybook(cpy, source=str(tmp_path / "rec.cpy"), copybook_dirs=(lib,)).members == (
        tuple(files)
    )


def test_copy_replacing_whole_words():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "M.cpy").write_text(fixed("    05  AMT  PIC 9(3) COMP-3."), "utf-8")
        src = Path(d) / "main.cpy"
        cb = parse_copybook(
            fixed("01  R.", "    COPY M REPLACING ==COMP-3== BY ==COMP==."), source=str(src)
        )
        f = cb.record().field("AMT")
        assert (f.kind, f.size) == ("binary", 2)


# ------------------------------------------------------------------ filler, trim, options


def test_keep_filler_names_fillers_in_copybook_order(tmp_path):
    cpy = ["01  R.", "    05  FILLER  PIC X.", "    05  A  PIC X.", "    05  FILLER  PIC 9."]
    code, rows = decode(tmp_path, cpy, ebc("XA5"), "--keep-filler")
    assert code == EXIT_OK
    assert (rows[0]["FILLER_1"], rows[0]["A"], rows[0]["FILLER_2"]) == ("X", "A", 5)
    code, rows = decode(tmp_path, cpy, ebc("XA5"))
    assert "FILLER_1" not in rows[0]


@pytest.mark.parametrize(
    "trim,expected",
    [("right", "  AB"), ("left", "AB  "), ("both", "AB"), ("none", "  AB  ")],
)
def test_trim_modes(tmp_path, trim, expected):
    cpy = ["01  R.", "    05  A  PIC X(6).", "    05  B  PIC X(3).", "    05  C  PIC X(3)."]
    data = ebc("  AB  ") + b"\x00\x00\x00" + ebc("C") + b"\x00\x00"
    code, rows = decode(tmp_path, cpy, data, "--trim", trim)
    assert code == EXIT_OK
    assert rows[0]["A"] == expected
    if trim == "none":
        assert rows[0]["B"] == "\x00\x00\x00"
    else:
        assert rows[0]["B"] is None  # all 0x00: null
        assert rows[0]["C"] == "C" if trim != "left" else rows[0]["C"] == "C\x00\x00"


def test_keep_padding_is_trim_none_and_contradiction_is_exit_2(tmp_path):
    cpy = ["01  R.", "    05  A  PIC X(4)."]
    code, rows = decode(tmp_path, cpy, ebc("AB  "), "--keep-padding")
    assert rows[0]["A"] == "AB  "
    code, _ = decode(tmp_path, cpy, ebc("AB  "), "--keep-padding", "--trim", "both")
    assert code == EXIT_USAGE


@pytest.mark.parametrize("opt", ["--sbcs-field", "--mixed-field", "--money-field"])
def test_option_naming_an_absent_field_is_exit_2(tmp_path, opt, capsys):
    cpy = ["01  R.", "    05  G.", "        10  A  PIC X(2).", "    05  N  PIC 9."]
    code, _ = decode(tmp_path, cpy, ebc("AB1"), opt, "NOPE")
    assert code == EXIT_USAGE
    assert "NOPE" in capsys.readouterr().err
    name = "G.A" if opt != "--money-field" else "N"
    code, _ = decode(tmp_path, cpy, ebc("AB1"), opt, name)
    assert code == EXIT_OK


def test_auto_format_with_star_comments_in_column_1_and_tabs(tmp_path):
    text = (
        "      * header\n"
        "        01  RECORD.\n"
        "***********************************************************************\n"
        "*******                   EDGE CASES\n"
        "          10  A    PIC S9(3) SIGN IS\n"
        "\t\t                          LEADING SEPARATE.\n"
        "          10  B    PIC X.\n"
    )
    lay = parse_copybook(text).record()
    assert [(f.name, f.offset, f.size) for f in lay.fields] == [("A", 0, 4), ("B", 4, 1)]


def test_odo_count_in_a_pic_x_field(tmp_path):
    cpy = [
        "01  R.",
        "    05  N  PIC X.",
        "    05  T  OCCURS 0 TO 2 TIMES DEPENDING ON N.",
        "        10  V  PIC X.",
        "    05  U  OCCURS 0 TO 2 TIMES DEPENDING ON N.",
        "        10  W  PIC X.",
    ]
    cpyp = tmp_path / "o.cpy"
    cpyp.write_text(fixed(*cpy), "utf-8")
    inp = tmp_path / "o.dat"
    from ikou.mainframe.encode import frame_records

    inp.write_bytes(frame_records([ebc("2ABCD"), ebc("1AC")], "V"))
    out = tmp_path / "o.jsonl"
    args = [
        "--copybook",
        str(cpyp),
        "--encoding",
        "cp930",
        "--recfm",
        "V",
        str(inp),
        "-o",
        str(out),
    ]
    assert main(args) == EXIT_OK
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    got = [(r["N"], [x["V"] for x in r["T"]], [x["W"] for x in r["U"]]) for r in rows]
    assert got == [("2", ["A", "B"], ["C", "D"]), ("1", ["A"], ["C"])]


def test_a_copybook_without_its_01_level_is_one_record():
    cb = parse_copybook(fixed("05  A  PIC X(2).", "05  B.", "    10  C  PIC 9."))
    assert cb.record_names == ["RECORD"]
    assert [(f.name, f.offset) for f in cb.record().fields] == [("A", 0), ("C", 2)]


def test_copybook_cut_from_a_program_skips_headers_and_file_descriptions():
    text = fixed(
        "DATA DIVISION.",
        "FILE SECTION.",
        "FD  INFILE",
        "    RECORDING MODE IS F.",
        "01  R.",
        "    05  A  PIC X(2).",
        "78  MAX-ROWS VALUE 10.",
        "    05  B  PIC 9.",
        "WORKING-STORAGE SECTION.",
        "PROCEDURE DIVISION.",
        "    DISPLAY 'HELLO'.",
    )
    cb = parse_copybook(text)
    assert [(f.name, f.offset) for f in cb.record().fields] == [("A", 0), ("B", 2)]


def test_sbcs_field_on_a_numeric_field_is_exit_2(tmp_path, capsys):
    cpy = ["01  R.", "    05  A  PIC X(2).", "    05  N  PIC 9."]
    code, _ = decode(tmp_path, cpy, ebc("AB1"), "--sbcs-field", "N")
    assert code == EXIT_USAGE and "not a PIC X field" in capsys.readouterr().err


def test_dbcs_field_padded_with_low_values(tmp_path):
    cpy = ["01  R.", "    05  K  PIC N(3).", "    05  Z  PIC N(2)."]
    kanji = bytes.fromhex("4562")  # a DBCS code of cp930 (synthetic text)
    data = kanji + b"\x00" * 4 + b"\x00" * 4
    code, rows = decode(tmp_path, cpy, data)
    assert code == EXIT_OK
    assert len(rows[0]["K"]) == 1 and rows[0]["Z"] is None


def test_auto_format_comments_from_column_1_with_sequence_numbers():
    text = (
        "* a comment written from column 1\n"
        "000100 01  R.\n"
        "*> another\n" + "000200     05  A  PIC X(2).".ljust(72) + "CHG001\n"
        "000300     05  B  PIC 9.\n"
    )
    assert [(f.name, f.offset) for f in parse_copybook(text).record().fields] == [
        ("A", 0),
        ("B", 2),
    ]


def test_last_entry_without_its_period_is_read_with_a_warning():
    cb = parse_copybook(fixed("01  R.", "    05  A  PIC X(2).", "    05  B  PIC 9"))
    assert [(f.name, f.size) for f in cb.record().fields] == [("A", 2), ("B", 1)]
    assert any(":3:" in w and "no period" in w for w in cb.warnings)


def test_blank_when_zero_on_a_zoned_field(tmp_path):
    cpy = [
        "01  R.",
        "    05  A  PIC 9(3) BLANK WHEN ZERO.",
        "    05  B  PIC 9(3)V9 BLANK WHEN ZERO.",
    ]
    code, rows = decode(tmp_path, cpy, ebc("   ") + ebc("    ") + ebc("012") + ebc("0125"))
    assert code == EXIT_OK
    assert [(r["A"], Decimal(str(r["B"]))) for r in rows] == [
        (0, Decimal(0)),
        (12, Decimal("12.5")),
    ]


NESTED = [
    "01  RECORD.",
    "    02  CNT  PIC 9(1).",
    "    02  GRP  OCCURS 0 TO 2 TIMES DEPENDING ON CNT.",
    "        03  INNER-COUNT  PIC 9(1).",
    "        03  INNER-GROUP  OCCURS 0 TO 3 DEPENDING ON INNER-COUNT.",
    "            04  FLD  PIC X.",
    "    02  TAIL  PIC X.",
]


def test_nested_odo_is_walked_record_by_record(tmp_path):
    from ikou.mainframe.encode import frame_records

    assert parse_copybook(fixed(*NESTED)).record().nested_odo
    cpy = tmp_path / "n.cpy"
    cpy.write_text(fixed(*NESTED), "utf-8")
    inp = tmp_path / "n.dat"
    recs = [ebc("22AB3CDEZ"), ebc("0Z"), ebc("10Q"), ebc("5Z"), ebc("23AB")]
    inp.write_bytes(frame_records(recs, "V"))
    out = tmp_path / "n.jsonl"
    args = ["--copybook", str(cpy), "--encoding", "cp037", "--recfm", "V", str(inp), "-o", str(out)]
    assert main(args) == EXIT_OK
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    flat = [
        (r["CNT"], [[x["FLD"] for x in g["INNER-GROUP"]] for g in r["GRP"]], r["TAIL"])
        for r in rows
    ]
    assert flat == [(2, [["A", "B"], ["C", "D", "E"]], "Z"), (0, [], "Z"), (1, [[]], "Q")]
    q = [json.loads(x) for x in (tmp_path / "n.jsonl.quarantine.jsonl").read_text().splitlines()]
    assert [(x["_record"], x["reason"]) for x in q] == [
        (3, "odo_out_of_range"),
        (4, "record_too_short"),
    ]


def test_zoned_numbers_right_justified_with_leading_spaces(tmp_path):
    cpy = ["01  R.", "    05  A  PIC 9(4).", "    05  B  PIC S9(3).", "    05  C  PIC 9(3)."]
    data = ebc("  12") + ebc(" 4") + b"\xd5" + ebc("  7")
    data += ebc("1 23") + ebc("04") + b"\xc5" + ebc("  7")
    code, rows = decode(tmp_path, cpy, data)
    assert code == EXIT_OK
    assert [(r["A"], r["B"], r["C"]) for r in rows] == [(12, -45, 7)]
    q = [json.loads(x) for x in (tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()]
    assert [(x["_record"], x["field"], x["reason"]) for x in q] == [(1, "A", "invalid_zoned")]


def test_packed_field_of_spaces_is_a_blank_numeric(tmp_path):
    cpy = ["01  R.", "    05  K  PIC X.", "    05  P  PIC S9(3) COMP-3."]
    data = ebc("A") + b"\x40\x40" + ebc("B") + bytes.fromhex("012C")
    code, rows = decode(tmp_path, cpy, data)
    q = [json.loads(x) for x in (tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()]
    assert [(x["_record"], x["reason"]) for x in q] == [(0, "blank_numeric")]
    code, rows = decode(tmp_path, cpy, data, "--blank-numeric", "null")
    assert [(r["K"], r["P"]) for r in rows] == [("A", None), ("B", 12)]


def test_nested_odo_reports_unmapped_gaiji_with_record_bytes():
    from ikou.mainframe.encode import frame_records
    from ikou.mainframe.engine import decode_file

    cpy = [
        "01  R.",
        "    05  C  PIC 9.",
        "    05  T  OCCURS 0 TO 2 DEPENDING ON C.",
        "        10  D  PIC 9.",
        "        10  U  OCCURS 0 TO 2 DEPENDING ON D.",
        "            15  N  PIC N(1).",
    ]
    cb = parse_copybook(fixed(*cpy))
    rec = ebc("21") + bytes.fromhex("4562") + ebc("1") + bytes.fromhex("6941")
    run = decode_file(frame_records([rec], "V"), cb, encoding="cp930", recfm="V")
    rows = [r for c in run for r in c.batch.to_pylist()]
    assert rows[0]["N"] == [[rows[0]["N"][0][0]], ["\u3013"]]
    occ = run.gaiji_occurrences().to_pylist()
    assert [(o["_record"], o["field"], o["byte"], o["legacy_code"]) for o in occ] == [
        (0, "N", 5, "6941")
    ]
