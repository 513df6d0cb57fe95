"""`ikou copybook layout`: offsets, sizes, types and pictures as the decoder computes them."""

from __future__ import annotations

import json

from ikou import cli

COPYBOOK = """\
       01  ORDER-REC.
           05  REC-TYPE          PIC X.
           05  CUST-NO           PIC 9(8) COMP-3.
           05  AMOUNT            PIC S9(7)V99 COMP-3.
           05  ITEM-COUNT        PIC 9(2).
           05  ITEMS OCCURS 1 TO 5 TIMES DEPENDING ON ITEM-COUNT.
               10  ITEM-CODE     PIC X(4).
               10  ITEM-QTY      PIC S9(4) COMP.
           05  NOTE              PIC X(10).
           05  NOTE-N REDEFINES NOTE PIC 9(10).
"""


def test_layout_json_gives_every_item_with_offsets(tmp_path, capsys):
    cpy = tmp_path / "order.cpy"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    assert cli.main(["copybook", "layout", str(cpy), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by = {r["name"]: r for r in doc["items"]}
    assert doc["lrecl"] == 1 + 5 + 5 + 2 + 5 * 6 + 10
    assert by["CUST-NO"]["offset"] == 1 and by["CUST-NO"]["size"] == 5
    assert by["CUST-NO"]["type"] == "packed" and by["CUST-NO"]["picture"] == "9(8)"
    assert by["AMOUNT"]["position"] == 7 and by["AMOUNT"]["scale"] == 2
    assert by["ITEMS"]["type"] == "group" and by["ITEMS"]["occurs"] == {
        "min": 1,
        "max": 5,
        "depends_on": "ITEM-COUNT",
    }
    assert by["ITEMS"]["total_size"] == 30 and by["ITEM-QTY"]["type"] == "binary"
    assert by["NOTE-N"]["offset"] == by["NOTE"]["offset"] and by["NOTE-N"]["redefines"] == "NOTE"
    assert by["ITEM-CODE"]["path"] == ["ORDER-REC", "ITEMS"]


def test_layout_table_for_engineers(tmp_path, capsys):
    cpy = tmp_path / "order.cpy"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    assert cli.main(["copybook", "layout", str(cpy)]) == 0
    out = capsys.readouterr().out
    assert "LRECL 53" in out
    line = next(x for x in out.splitlines() if "ITEMS" in x and "OCCURS" in x)
    assert "OCCURS 1 TO 5 DEPENDING ON ITEM-COUNT" in line
    assert any("NOTE-N" in x and "REDEFINES NOTE" in x for x in out.splitlines())


def test_a_broken_copybook_is_exit_3(tmp_path, capsys):
    cpy = tmp_path / "broken.cpy"
    cpy.write_text("       01  R.\n           05  A PIC X(.\n", encoding="utf-8")
    assert cli.main(["copybook", "layout", str(cpy)]) == 3
    err = capsys.readouterr().err
    assert "broken.cpy" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_missing_copybook_is_exit_4(tmp_path, capsys):
    assert cli.main(["copybook", "layout", str(tmp_path / "none.cpy")]) == 4
    assert "none.cpy" in capsys.readouterr().err
