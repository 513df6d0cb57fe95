"""Copybook parser: every feature, and errors naming line and column."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ikou.mainframe.copybook import CopybookError, parse_copybook

from .conftest import DATA, fixed


def test_fixture_copybook_layouts(juki_cb):
    assert juki_cb.record_names == ["JUKI-HDR", "JUKI-DATA", "JUKI-TRL"]
    assert juki_cb.lrecl == 120
    data = juki_cb.record("JUKI-DATA")
    assert data.size == 120
    f = data.field("TAX-AMOUNT")
    assert (f.offset, f.size, f.kind, f.digits, f.scale, f.signed) == (98, 6, "packed", 11, 2, True)
    assert data.field("SHIMEI-KANJI").kind == "dbcs" and data.field("SHIMEI-KANJI").size == 20
    era = data.field("BIRTH-ERA")
    assert era.path == ("JUKI-DATA", "BIRTH-DATE")
    assert era.conditions == {"ERA-SHOWA": [4], "ERA-VALID": [(1, 5)]}
    assert data.field("REC-TYPE").conditions == {"IS-DATA": ["D"]}
    assert [f.column for f in data.data_fields][:3] == ["REC-TYPE", "ATENA-NO", "SHIMEI-KANJI"]
    assert any(f.filler for f in data.fields)


def test_sequence_indicator_and_identification_areas_ignored():
    text = fixed(
        "* a comment line with PIC 9(5) in it",
        "/ page eject comment",
        "01  REC.",
        "    05  A  PIC X(3).".ljust(65) + "IGNORED1",
        "D   05  DEBUG-LINE PIC X.",
        "    05  B  PIC 9(2).  *> inline comment",
    )
    text = "\n".join(
        ("ABCDEF" + line[6:]) if line[6:7] != "*" else line for line in text.splitlines()
    )
    lay = parse_copybook(text).record()
    assert [(f.name, f.offset, f.size) for f in lay.fields] == [("A", 0, 3), ("B", 3, 2)]


@pytest.mark.parametrize(
    "pic,usage,kind,size,digits,scale,signed",
    [
        ("X(10)", "", "alphanumeric", 10, 0, 0, False),
        ("XXX", "", "alphanumeric", 3, 0, 0, False),
        ("A(4)", "", "alphanumeric", 4, 0, 0, False),
        ("N(5)", "", "dbcs", 10, 0, 0, False),
        ("G(3)", "DISPLAY-1", "dbcs", 6, 0, 0, False),
        ("9(5)", "", "zoned", 5, 5, 0, False),
        ("S9(5)V99", "", "zoned", 7, 7, 2, True),
        ("S9(5)V99", "COMP-3", "packed", 4, 7, 2, True),
        ("9(4)", "PACKED-DECIMAL", "packed", 3, 4, 0, False),
        ("S9(4)", "COMP", "binary", 2, 4, 0, True),
        ("S9(9)", "BINARY", "binary", 4, 9, 0, True),
        ("9(10)", "COMP-4", "binary", 8, 10, 0, False),
        ("S9(18)", "COMP-5", "binary", 8, 18, 0, True),
        ("9(3)PP", "", "zoned", 3, 3, -2, False),
        ("PP99", "", "zoned", 2, 2, 4, False),
        ("SVPP999", "", "zoned", 3, 3, 5, True),
        ("S9(31)", "COMP-3", "packed", 16, 31, 0, True),
        ("ZZ,ZZ9.99-", "", "edited", 10, 7, 2, True),
    ],
)
def test_pictures(pic, usage, kind, size, digits, scale, signed):
    text = fixed("01  REC.", f"    05  F  PIC {pic} {usage}.")
    f = parse_copybook(text).record().field("F")
    assert (f.kind, f.size, f.digits, f.scale, f.signed) == (kind, size, digits, scale, signed)


def test_float_usages_and_sign_clauses():
    text = fixed(
        "01  REC.",
        "    05  F1  COMP-1.",
        "    05  F2  USAGE IS COMPUTATIONAL-2.",
        "    05  L   PIC S9(3) SIGN IS LEADING.",
        "    05  LS  PIC S9(3) SIGN LEADING SEPARATE CHARACTER.",
        "    05  TS  PIC S9(3) SIGN TRAILING SEPARATE.",
        "    05  T   PIC S9(3).",
    )
    lay = parse_copybook(text).record()
    f1, f2, lead, ls, ts, t = lay.fields
    assert (f1.kind, f1.size, f2.kind, f2.size) == ("float", 4, "float", 8)
    assert (lead.sign_position, lead.sign_separate, lead.size) == ("leading", False, 3)
    assert (ls.sign_position, ls.sign_separate, ls.size) == ("leading", True, 4)
    assert (ts.sign_position, ts.sign_separate, ts.size) == ("trailing", True, 4)
    assert (t.sign_position, t.sign_separate, t.offset) == ("trailing", False, 23)


def test_group_usage_is_inherited():
    text = fixed(
        "01  REC.", "    05  G  COMP-3.", "        10  A  PIC S9(5).", "        10  B  PIC 9(3)."
    )
    a, b = parse_copybook(text).record().fields
    assert (a.kind, a.size, b.kind, b.size, b.offset) == ("packed", 3, "packed", 2, 3)


def test_occurs_nested_and_depends_on():
    text = fixed(
        "01  REC.",
        "    05  CNT            PIC 9(2).",
        "    05  PHONE          PIC X(4) OCCURS 3 TIMES.",
        "    05  GRID           OCCURS 2.",
        "        10  CELL       PIC 9 OCCURS 3.",
        "    05  KIDS OCCURS 1 TO 5 TIMES DEPENDING ON CNT",
        "             ASCENDING KEY IS KID-NAME INDEXED BY KX.",
        "        10  KID-NAME   PIC N(2).",
        "        10  KID-AGE    PIC 9(2).",
        "    05  TAIL           PIC X(2).",
    )
    lay = parse_copybook(text).record()
    phone = lay.field("PHONE")
    assert phone.occurs == 3 and phone.dims[0].stride == 4
    cell = lay.field("CELL")
    assert [d.max for d in cell.dims] == [2, 3] and [d.stride for d in cell.dims] == [3, 1]
    assert cell.occurs == 6
    kid = lay.field("KID-NAME")
    assert kid.depends_on == "CNT" and kid.dims[0].min == 1 and kid.dims[0].max == 5
    assert kid.offset == 2 + 12 + 6
    tail = lay.field("TAIL")
    assert tail.offset == 20 + 5 * 6 and tail.shifts == (0,)
    assert lay.size == 52
    assert lay.min_length() == 52 - 4 * 6
    assert lay.variable


def test_redefines_and_layout_selection():
    text = fixed(
        "01  REC.",
        "    05  REC-TYPE       PIC X.",
        "    05  BODY-H.",
        "        10  H-DATE     PIC 9(8).",
        "    05  BODY-D REDEFINES BODY-H.",
        "        10  D-ID       PIC 9(4).",
        "        10  D-AMT      PIC S9(5) COMP-3.",
        "        10  D-X        PIC X(10).",
        "    05  BODY-T REDEFINES BODY-H.",
        "        10  T-CNT      PIC 9(6).",
        "    05  LAST           PIC X.",
    )
    cb = parse_copybook(text)
    full = cb.record("REC")
    assert full.size == 1 + 17 + 1
    assert full.field("LAST").offset == 18
    assert full.field("D-ID").lenient and not full.field("H-DATE").lenient
    d = cb.record("BODY-D")
    assert [f.name for f in d.fields] == ["REC-TYPE", "D-ID", "D-AMT", "D-X", "LAST"]
    assert d.field("D-AMT").offset == 5 and not d.field("D-AMT").lenient
    assert d.size == 19
    assert [f.name for f in cb.record("BODY-H").fields] == ["REC-TYPE", "H-DATE", "LAST"]
    assert d.field("D-ID").redefines == "BODY-H"


def test_several_01_records_share_the_area_and_01_redefines():
    text = fixed(
        "01  A.",
        "    05  X  PIC X(10).",
        "01  B REDEFINES A.",
        "    05  Y  PIC 9(4).",
        "01  C.",
        "    05  Z  PIC X(30).",
    )
    cb = parse_copybook(text)
    assert cb.lrecl == 30
    assert cb.record("B").field("Y").offset == 0
    with pytest.raises(KeyError, match="name one"):
        cb.record()


def test_filler_value_renames_and_levels_66_77():
    text = fixed(
        "01  REC.",
        "    05  A       PIC X(2) VALUE 'AB'.",
        "    05  FILLER  PIC X(3) VALUE SPACES.",
        "    05          PIC X.",
        "    05  B       PIC S9(3)V9 VALUE -12.5.",
        "    05  C       PIC X(4) VALUE X'C1C2C3C4'.",
        "66  AB-RANGE RENAMES A THRU B.",
        "77  STANDALONE  PIC 9(3).",
    )
    cb = parse_copybook(text)
    lay = cb.record("REC")
    assert lay.field("A").value == "AB"
    assert lay.field("B").value == Decimal("-12.5")
    assert lay.field("C").value == b"\xc1\xc2\xc3\xc4"
    assert sum(f.filler for f in lay.fields) == 2
    assert [f.column for f in lay.data_fields] == ["A", "B", "C"]
    (rn,) = cb.renames("REC")
    assert (rn.name, rn.offset, rn.size, rn.fields) == ("AB-RANGE", 0, 10, ("A", "B"))
    assert cb.record("STANDALONE").size == 3


def test_continued_literal():
    text = fixed(
        "01  REC.",
        "    05  A   PIC X(80) VALUE 'ABC",
        "-       'DEF'.",
    )
    v = parse_copybook(text).record().field("A").value
    # the literal runs to column 72 (36 characters from column 37), then continues
    assert v == "ABC" + " " * 33 + "DEF"


def test_condition_values_figurative_and_quotes():
    text = fixed(
        "01  REC.",
        "    05  S  PIC X(2).",
        "        88  EMPTY     VALUE SPACES.",
        "        88  QUOTED    VALUE 'IT''S' \"X\".",
        "        88  CODES     VALUES ARE 'A1' 'B2' 'C3'.",
        "    05  N  PIC 9(3).",
        "        88  LOW-RANGE VALUE 0 THRU 99 200.",
        "        88  ZERO-V    VALUE ZERO.",
    )
    lay = parse_copybook(text).record()
    assert lay.field("S").conditions == {
        "EMPTY": [" "],
        "QUOTED": ["IT'S", "X"],
        "CODES": ["A1", "B2", "C3"],
    }
    assert lay.field("N").conditions == {"LOW-RANGE": [(0, 99), 200], "ZERO-V": [0]}


def test_duplicate_leaf_names_are_qualified():
    text = fixed(
        "01  REC.",
        "    05  BIRTH.",
        "        10  YY  PIC 9(4).",
        "    05  MOVED.",
        "        10  YY  PIC 9(4).",
        "    05  ONLY    PIC X.",
    )
    lay = parse_copybook(text).record()
    assert lay.columns == ["BIRTH.YY", "MOVED.YY", "ONLY"]
    assert lay.field("MOVED.YY").offset == 4
    assert lay.field("BIRTH.YY").offset == 0


def test_find_qualified(juki_cb):
    assert juki_cb.find("BIRTH-ERA OF BIRTH-DATE").name == "BIRTH-ERA"
    assert juki_cb.find("JUKI-DATA.BIRTH-DATE.BIRTH-YMD").offset == 52


def test_free_format():
    text = "01 REC.\n  05 A PIC X(2). *> comment\n* whole-line comment\n  05 B PIC 9.\n"
    lay = parse_copybook(text, format="free").record()
    assert [(f.name, f.offset) for f in lay.fields] == [("A", 0), ("B", 2)]


def test_layout_tree_for_json():
    text = fixed(
        "01  REC.",
        "    05  G.",
        "        10  A PIC X.",
        "    05  T OCCURS 2.",
        "        10  B PIC 9.",
        "    05  FILLER PIC X.",
    )
    tree = parse_copybook(text).record().tree()
    assert tree == [
        ("G", None, [("A", "A", [], False)], False),
        ("T", None, [("B", "B", [], False)], True),
    ]


# ------------------------------------------------------------------------------------ errors


def _err(text: str) -> CopybookError:
    with pytest.raises(CopybookError) as ei:
        parse_copybook(text, source="bad.cpy")
    return ei.value


@pytest.mark.parametrize(
    "lines,line,column,fragment",
    [
        (["01  REC.", "    05  A  PIC 9(3)Q."], 2, 27, "invalid symbol 'Q'"),
        (["01  REC.", "    05  A  PIC X(0)."], 2, 24, "repeat count"),
        (["01  REC.", "    05  A  PIC 9(3)S."], 2, 27, "S must appear once"),
        (["01  REC.", "    05  A  PIC 9V9V9."], 2, 26, "V appears more than once"),
        (["01  REC.", "    05  A  PIC X(3) COMP-3."], 2, 23, "cannot have USAGE COMP-3"),
        (["01  REC.", "    05  A  PIC X(3) COMP-9."], 2, 28, "unknown USAGE"),
        (["01  REC.", "    05  A  PIC X(3) FROBNICATE."], 2, 28, "unexpected 'FROBNICATE'"),
        (["01  REC.", "    05  A."], 2, 12, "has no PICTURE"),
        (["01  REC.", "    05  A  PIC X.", "    05  B  REDEFINES C  PIC X."], 3, 29, "REDEFINES C"),
        (["01  REC.", "    5X  A  PIC X."], 2, 12, "expected a level number"),
        (["01  REC.", "    55  A  PIC X."], 2, 12, "invalid level number"),
        (["01  REC.", "    05  A  PIC X VALUE 'ABC"], 2, 31, "literal not closed"),
        (["01  REC.", "    05  A  PIC S9(39) COMP."], 2, 23, "at most 38"),
        (["01  REC.", "    05  A  PIC X OCCURS 2 TO 4."], 2, 25, "needs DEPENDING ON"),
        (["01  REC.", "    05  A  PIC X.", "    88  ."], 3, 12, "level 88"),
        (
            ["01  REC.", "    05  A  PIC X.", "        10  B PIC X."],
            2,
            23,
            "PICTURE but subordinate",
        ),
    ],
)
def test_errors_name_line_and_column(lines, line, column, fragment):
    e = _err(fixed(*lines))
    assert e.source == "bad.cpy"
    assert (e.line, e.column) == (line, column), str(e)
    assert fragment in str(e)
    assert str(e).startswith(f"bad.cpy:{line}:{column}: ")


def test_invalid_indicator_column():
    e = _err("000100X01  REC.\n")
    assert (e.line, e.column) == (1, 7)


def test_depends_on_missing_field():
    e = _err(fixed("01  REC.", "    05  T  PIC X OCCURS 1 TO 3 DEPENDING ON NOPE."))
    assert "NOPE" in str(e)


def test_empty_copybook():
    e = _err(fixed("* nothing but a comment"))
    assert "no data description" in str(e)


def test_copybook_error_is_value_error():
    assert issubclass(CopybookError, ValueError)


def test_fixture_file_parses_from_path():
    text = (DATA / "juki.cpy").read_text(encoding="utf-8")
    assert parse_copybook(text, source="juki.cpy").source == "juki.cpy"
