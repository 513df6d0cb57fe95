"""decode_file / decode_to_parquet: layouts by record type, trailer checks, quarantine, 外字, accounting."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.encode import encode_record, frame_records
from ikou.mainframe.engine import decode_file, decode_to_parquet
from ikou.mainframe.engine_options import DecodeOptions
from ikou.mainframe.reader import RecordFormatError

from .conftest import DATA, PEOPLE, fixed, juki_options, juki_records


def run_all(data, cb, opts):
    run = decode_file(io.BytesIO(data), cb, opts)
    chunks = list(run)
    batches = {}
    for c in chunks:
        for name, rb in c.batches.items():
            batches.setdefault(name, []).append(rb)
    tables = {n: pa.Table.from_batches(b) for n, b in batches.items()}
    q = pa.concat_tables([c.quarantine for c in chunks]) if chunks else None
    return run, tables, q


def check_accounting(s):
    assert s.records_in == s.records_out + s.header_records + s.trailer_records + s.quarantined
    assert s.accounted


def test_full_file_fb(juki_cb, cp930):
    data = frame_records(juki_records(juki_cb, cp930), "FB", lrecl=120)
    run, tables, q = run_all(data, juki_cb, juki_options())
    s = run.summary
    assert (s.records_in, s.records_out, s.header_records, s.trailer_records, s.quarantined) == (
        5,
        3,
        1,
        1,
        0,
    )
    check_accounting(s)
    assert s.complete and s.bytes_read == 600
    t = tables["JUKI-DATA"]
    rows = t.to_pylist()
    assert [r["SHIMEI-KANJI"] for r in rows] == [p["KANJI"] for p in PEOPLE]
    assert [r["SHIMEI-KANA"] for r in rows] == [p["KANA"] for p in PEOPLE]
    assert [r["ADDRESS"] for r in rows] == [p["ADDR"] for p in PEOPLE]
    assert [r["TAX-AMOUNT"] for r in rows] == [p["TAX"] for p in PEOPLE]
    assert [r["BALANCE"] for r in rows] == [p["BAL"] for p in PEOPLE]
    assert [r["HOUSEHOLD-SIZE"] for r in rows] == [p["HH"] for p in PEOPLE]
    assert [r["ATENA-NO"] for r in rows] == [1, 2, 3]
    assert [(r["_record"], r["_offset"]) for r in rows] == [(1, 120), (2, 240), (3, 360)]
    assert {r["_file"] for r in rows} == {"<stream>"}
    sch = t.schema
    assert sch.field("TAX-AMOUNT").type == pa.decimal128(11, 2)
    assert sch.field("ATENA-NO").type == pa.int64() and sch.field("ADDRESS").type == pa.string()
    assert sch.names[-3:] == ["_file", "_record", "_offset"]
    assert s.header == {
        "HDR-TYPE": "H",
        "HDR-CITY-CODE": 999999,
        "HDR-CREATED": 20261128,
        "_file": "<stream>",
        "_record": 0,
        "_offset": 0,
    }
    assert s.trailer["TRL-COUNT"] == 3
    assert s.trailer_ok and [c.name for c in s.trailer_checks] == ["record_count", "sum"]
    sumc = s.trailer_checks[1]
    assert sumc.expected == sumc.actual == Decimal("12340.68")
    assert "trailer=OK" in s.line()
    json.dumps(s.to_dict())


@pytest.mark.parametrize("recfm", ["V", "VB"])
def test_variable_formats_give_the_same_result(juki_cb, cp930, recfm):
    recs = juki_records(juki_cb, cp930)
    _, fb, _ = run_all(frame_records(recs, "FB", lrecl=120), juki_cb, juki_options())
    run, v, _ = run_all(
        frame_records(recs, recfm, block_size=300), juki_cb, juki_options(recfm=recfm)
    )
    cols = [c for c in fb["JUKI-DATA"].column_names if c != "_offset"]
    assert v["JUKI-DATA"].select(cols).equals(fb["JUKI-DATA"].select(cols))
    assert run.summary.trailer_ok
    check_accounting(run.summary)


def test_trailer_mismatch(juki_cb, cp930):
    data = frame_records(
        juki_records(juki_cb, cp930, trailer_count=4, trailer_total=Decimal("1.00")), "FB"
    )
    run, _, _ = run_all(data, juki_cb, juki_options())
    s = run.summary
    assert not s.trailer_ok
    cnt, tot = s.trailer_checks
    assert (cnt.expected, cnt.actual, cnt.ok) == (4, 3, False)
    assert (tot.expected, tot.actual, tot.ok) == (Decimal("1.00"), Decimal("12340.68"), False)
    assert "trailer=MISMATCH" in s.line()


def test_missing_trailer(juki_cb, cp930):
    data = frame_records(juki_records(juki_cb, cp930, trailer=False), "FB")
    run, _, _ = run_all(data, juki_cb, juki_options())
    assert not run.summary.trailer_ok
    assert all(c.detail == "no trailer record" for c in run.summary.trailer_checks)


def test_bad_records_are_quarantined_never_dropped(juki_cb, cp930):
    recs = juki_records(juki_cb, cp930)
    data_lay = juki_cb.record("JUKI-DATA")
    tax = data_lay.field("TAX-AMOUNT").offset
    addr = data_lay.field("ADDRESS").offset
    r1 = bytearray(recs[1])
    r1[tax] = 0xAB  # bad nibble
    r2 = bytearray(recs[2])
    r2[addr : addr + 4] = b"\x0e\x45\x41\x40"  # SO never closed
    recs[1], recs[2] = bytes(r1), bytes(r2)
    recs.insert(3, b"X" + recs[3][1:])  # unknown record type
    data = frame_records(recs, "FB") + recs[3][:50]  # truncated last record
    run, tables, q = run_all(data, juki_cb, juki_options())
    s = run.summary
    check_accounting(s)
    assert (s.records_in, s.records_out, s.quarantined) == (7, 1, 4)
    got = {(r["_record"], r["reason"], r["field"]) for r in q.to_pylist()}
    assert got == {
        (1, "bad_nibble", "TAX-AMOUNT"),
        (2, "unbalanced_shift", "ADDRESS"),
        (3, "unknown_record_type", "REC-TYPE"),
        (6, "truncated_record", None),
    }
    rows = {r["_record"]: r for r in q.to_pylist()}
    assert rows[1]["detail"] == f"byte {tax}: 0xAB" and rows[1]["_offset"] == 120
    assert rows[1]["raw_hex"] == bytes(r1).hex().upper() and rows[1]["raw_length"] == 120
    assert rows[3]["detail"] == "type bytes 58"
    # no decoded personal text in any quarantine column but the raw bytes
    text = json.dumps(
        [{k: v for k, v in r.items() if k != "raw_hex"} for r in q.to_pylist()], ensure_ascii=False
    )
    for p in PEOPLE:
        for value in (p["KANJI"], p["KANA"], p["ADDR"], p["ATENA"]):
            assert value not in text
    # the trailer counts every data record in the file, quarantined or not
    assert s.trailer_checks[0].actual == 3
    assert s.by_reason == {
        "bad_nibble": 1,
        "unbalanced_shift": 1,
        "unknown_record_type": 1,
        "truncated_record": 1,
    }
    # the sum cannot be verified when an amount is unreadable
    assert not s.trailer_checks[1].ok and "unreadable TAX-AMOUNT" in s.trailer_checks[1].detail


def test_streaming_in_small_chunks(juki_cb, cp930):
    people = PEOPLE * 40
    data = frame_records(juki_records(juki_cb, cp930, people), "FB")
    run = decode_file(io.BytesIO(data), juki_cb, juki_options(chunk_bytes=1000))
    chunks = list(run)
    assert len(chunks) > 10
    assert sum(c.records_out for c in chunks) == 120
    recs = [r for c in chunks for r in c.batch.to_pylist()]
    assert [r["_record"] for r in recs] == list(range(1, 121))
    assert run.summary.trailer_ok
    check_accounting(run.summary)


GAIJI = "encoding,legacy_code,unicode,mj_name,note\ncp930,6941,U+9AD9,MJ028902,\n"


def _gaiji_file(juki_cb, cp930):
    recs = juki_records(juki_cb, cp930)
    lay = juki_cb.record("JUKI-DATA")
    off = lay.field("SHIMEI-KANJI").offset
    r = bytearray(recs[1])
    r[off : off + 4] = b"\x69\x41\x69\x43"  # one mapped, one unmapped 外字
    recs[1] = bytes(r)
    r = bytearray(recs[2])
    r[off : off + 2] = b"\x69\x41"
    recs[2] = bytes(r)
    return frame_records(recs, "FB")


def test_gaiji_placeholder_policy(juki_cb, cp930):
    run, tables, q = run_all(_gaiji_file(juki_cb, cp930), juki_cb, juki_options(gaiji=GAIJI))
    s = run.summary
    names = tables["JUKI-DATA"].column("SHIMEI-KANJI").to_pylist()
    assert names[0] == "髙〓" + PEOPLE[0]["KANJI"][2:]
    assert names[1] == "髙" + PEOPLE[1]["KANJI"][1:]
    assert (
        s.quarantined == 0
        and s.gaiji_mapped == 2
        and s.gaiji_unmapped == 1
        and s.gaiji_codes == ["6943"]
    )
    occ = run.gaiji_occurrences().to_pylist()
    assert len(occ) == 1
    o = occ[0]
    assert (o["_record"], o["field"], o["legacy_code"], o["encoding"], o["byte"]) == (
        1,
        "SHIMEI-KANJI",
        "6943",
        "cp930",
        13,
    )
    assert isinstance(o["candidates"], list)


def test_gaiji_quarantine_policy(juki_cb, cp930, tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(GAIJI, encoding="utf-8")
    run, tables, q = run_all(
        _gaiji_file(juki_cb, cp930),
        juki_cb,
        juki_options(gaiji=str(path), gaiji_policy="quarantine"),
    )
    s = run.summary
    (row,) = q.to_pylist()
    assert (row["_record"], row["reason"], row["field"], row["detail"]) == (
        1,
        "unmapped_gaiji",
        "SHIMEI-KANJI",
        "byte 13: code 6943",
    )
    assert s.records_out == 2 and s.gaiji_unmapped == 1
    check_accounting(s)


def test_gaiji_candidates_from_other_code_pages(juki_cb, cp930):
    from ikou.moji.codepages import get_codepage

    cp1390 = get_codepage("cp1390")
    # a code CCSID 930 leaves undefined (outside its user-defined area) that 1390 defines
    code = next(
        c
        for c in range(0x4141, 0xFEFE)
        if int(cp1390.dbcs[c]) < 0x110000
        and int(cp930.dbcs[c]) == 0xFFFFFFFF
        and not cp930.is_user_defined(c)
        and 0x41 <= (c & 0xFF) <= 0xFE
    )
    recs = juki_records(juki_cb, cp930)
    off = juki_cb.record("JUKI-DATA").field("SHIMEI-KANJI").offset
    r = bytearray(recs[1])
    r[off : off + 2] = code.to_bytes(2, "big")
    recs[1] = bytes(r)
    run, _, _ = run_all(frame_records(recs, "FB"), juki_cb, juki_options())
    (o,) = run.gaiji_occurrences().to_pylist()
    assert any("cp1390 code page" in c for c in o["candidates"])


ODO = fixed(
    "01  FAM.",
    "    05  FAM-ID        PIC 9(4).",
    "    05  KID-CNT       PIC 9.",
    "    05  KID OCCURS 0 TO 4 TIMES DEPENDING ON KID-CNT.",
    "        10  KID-NAME  PIC N(3).",
    "        10  KID-AGE   PIC S9(3) COMP-3.",
    "    05  FAM-NOTE      PIC X(4).",
)


def test_occurs_depending_on_in_variable_records(cp930):
    cb = parse_copybook(ODO)
    lay = cb.record()
    recs = [
        encode_record(
            lay,
            {
                "FAM-ID": i,
                "KID-NAME": ["見本", "架空"][: i % 3],
                "KID-AGE": [5, -1][: i % 3],
                "FAM-NOTE": f"N{i}",
            },
            cp930,
        )
        for i in range(6)
    ]
    assert len({len(r) for r in recs}) == 3
    broken = bytearray(recs[4])
    broken[4] = 0xF9  # count 9 > 4
    recs[4] = bytes(broken)
    recs.append(recs[1][:8])  # shorter than its count needs: the cut fields are null
    recs.append(recs[1][:3])  # ends inside its OCCURS count: quarantined
    run, tables, q = run_all(
        frame_records(recs, "VB"), cb, DecodeOptions(encoding="cp930", recfm="VB")
    )
    rows = tables["FAM"].to_pylist()
    assert [r["FAM-ID"] for r in rows] == [0, 1, 2, 3, 5, 1]
    assert [r["KID-NAME"] for r in rows] == [
        [],
        ["見本"],
        ["見本", "架空"],
        [],
        ["見本", "架空"],
        None,
    ]
    assert [r["KID-AGE"] for r in rows][2] == [Decimal(5), Decimal(-1)]
    assert [r["FAM-NOTE"] for r in rows] == ["N0", "N1", "N2", "N3", "N5", None]
    assert tables["FAM"].schema.field("KID-NAME").type == pa.list_(pa.string())
    reasons = {r["_record"]: (r["reason"], r["field"]) for r in q.to_pylist()}
    assert reasons == {4: ("odo_out_of_range", "KID-CNT"), 7: ("record_too_short", None)}
    assert run.summary.findings == {"short_record": 1}
    check_accounting(run.summary)


def test_occurs_fixed_and_nested(cp930):
    cb = parse_copybook(
        fixed(
            "01  R.",
            "    05  PHONE PIC X(3) OCCURS 2.",
            "    05  G OCCURS 2.",
            "        10  C PIC 9 OCCURS 3.",
        )
    )
    raw = encode_record(cb.record(), {"PHONE": ["A1", "B2"], "C": [[1, 2, 3], [4, 5, 6]]}, cp930)
    run, tables, _ = run_all(raw * 2, cb, DecodeOptions(encoding="cp930"))
    (row, _) = tables["R"].to_pylist()
    assert row["PHONE"] == ["A1", "B2"] and row["C"] == [[1, 2, 3], [4, 5, 6]]
    assert tables["R"].schema.field("C").type == pa.list_(pa.list_(pa.int64()))


def test_redefines_groups_chosen_by_record_type(cp930):
    cb = parse_copybook(
        fixed(
            "01  REC.",
            "    05  REC-TYPE      PIC X.",
            "    05  BODY-H.",
            "        10  H-DATE    PIC 9(8).",
            "        10  FILLER    PIC X(4).",
            "    05  BODY-D REDEFINES BODY-H.",
            "        10  D-ID      PIC 9(4).",
            "        10  D-AMT     PIC S9(5)V99 COMP-3.",
            "        10  D-NAME    PIC N(2).",
            "    05  BODY-T REDEFINES BODY-H.",
            "        10  T-CNT     PIC 9(6).",
            "        10  T-SUM     PIC S9(9)V99 COMP-3.",
        )
    )
    recs = [encode_record(cb.record("BODY-H"), {"REC-TYPE": "H", "H-DATE": 20261128}, cp930)]
    for i in range(3):
        recs.append(
            encode_record(
                cb.record("BODY-D"),
                {"REC-TYPE": "D", "D-ID": i, "D-AMT": Decimal("1.25") * i, "D-NAME": "見本"},
                cp930,
            )
        )
    recs.append(
        encode_record(
            cb.record("BODY-T"), {"REC-TYPE": "T", "T-CNT": 3, "T-SUM": Decimal("3.75")}, cp930
        )
    )
    opts = DecodeOptions(
        encoding="cp930",
        record_type_field="REC-TYPE",
        record_types={"H": "BODY-H", "D": "BODY-D", "T": "BODY-T"},
        header_layouts="BODY-H",
        trailer_layouts="BODY-T",
        record_count_field="T-CNT",
        control_totals={"T-SUM": "D-AMT"},
    )
    run, tables, q = run_all(frame_records(recs, "FB"), cb, opts)
    assert tables["BODY-D"].column_names == [
        "REC-TYPE",
        "D-ID",
        "D-AMT",
        "D-NAME",
        "_file",
        "_record",
        "_offset",
    ]
    assert tables["BODY-D"].column("D-AMT").to_pylist() == [
        Decimal("0.00"),
        Decimal("1.25"),
        Decimal("2.50"),
    ]
    assert run.summary.header["H-DATE"] == 20261128
    assert run.summary.trailer_ok
    check_accounting(run.summary)


def test_lenient_redefines_field_gives_null(cp930):
    cb = parse_copybook(
        fixed("01  R.", "    05  CODE-X  PIC X(3).", "    05  CODE-N  REDEFINES CODE-X PIC 9(3).")
    )
    data = cp930.encode_sbcs("123") + cp930.encode_sbcs("ABC")
    run, tables, q = run_all(data, cb, DecodeOptions(encoding="cp930"))
    assert tables["R"].column("CODE-N").to_pylist() == [123, None]
    assert tables["R"].column("CODE-X").to_pylist() == ["123", "ABC"]
    assert run.summary.quarantined == 0


def test_several_data_layouts(cp930):
    cb = parse_copybook(
        fixed(
            "01  A-REC.",
            "    05  T PIC X.",
            "    05  A PIC 9(3).",
            "01  B-REC.",
            "    05  U PIC X.",
            "    05  B PIC X(3).",
        )
    )
    recs = [
        encode_record(cb.record("A-REC"), {"T": "A", "A": 1}, cp930),
        encode_record(cb.record("B-REC"), {"U": "B", "B": "XY"}, cp930),
        encode_record(cb.record("A-REC"), {"T": "A", "A": 2}, cp930),
    ]
    opts = DecodeOptions(
        encoding="cp930", record_type_field="T", record_types={"A": "A-REC", "B": "B-REC"}
    )
    run, tables, _ = run_all(frame_records(recs, "FB"), cb, opts)
    assert tables["A-REC"].column("A").to_pylist() == [1, 2]
    assert tables["A-REC"].column("_record").to_pylist() == [0, 2]
    assert tables["B-REC"].column("B").to_pylist() == ["XY"]
    assert run.summary.by_layout == {"A-REC": 2, "B-REC": 1}


def test_byte_range(juki_cb, cp930):
    people = PEOPLE * 4
    data = frame_records(juki_records(juki_cb, cp930, people, header=False, trailer=False), "FB")
    opts = DecodeOptions(
        encoding="cp930", layout="JUKI-DATA", mixed_fields=("ADDRESS",), byte_range=(480, 960)
    )
    run, tables, _ = run_all(data, juki_cb, opts)
    assert tables["JUKI-DATA"].column("_record").to_pylist() == [4, 5, 6, 7]


def test_decode_to_parquet(juki_cb, cp930, tmp_path):
    recs = juki_records(juki_cb, cp930)
    r = bytearray(recs[1])
    r[juki_cb.record("JUKI-DATA").field("BALANCE").offset] = 0x4B
    recs[1] = bytes(r)
    src = tmp_path / "JUKI.DAT"
    src.write_bytes(frame_records(recs, "FB"))
    out = tmp_path / "juki.parquet"
    s = decode_to_parquet(src, juki_cb, juki_options(), out, gaiji_path=tmp_path / "g.parquet")
    t = pq.read_table(out)
    assert t.num_rows == 2 and t.column("_file").to_pylist() == [str(src)] * 2
    qlines = (tmp_path / "juki.parquet.quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["reason"] for x in qlines] == ["invalid_zoned"]
    assert pq.read_table(tmp_path / "g.parquet").num_rows == 0
    assert s.accounted and s.quarantined == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_option_errors(juki_cb):
    with pytest.raises(ValueError, match="choose one"):
        decode_file(b"", juki_cb, DecodeOptions())
    with pytest.raises(ValueError, match="NOPE"):
        decode_file(b"", juki_cb, DecodeOptions(layout="NOPE"))
    with pytest.raises(ValueError, match="in none of the layouts"):
        decode_file(b"", juki_cb, juki_options(record_type_field="ZZZ"))
    with pytest.raises(RecordFormatError, match="LRECL is 100"):
        decode_file(b"", juki_cb, juki_options(lrecl=100))
    with pytest.raises(ValueError, match="trailer"):
        decode_file(b"", juki_cb, juki_options(trailer_layouts=()))
    with pytest.raises(ValueError, match="gaiji_policy"):
        decode_file(b"", juki_cb, juki_options(gaiji_policy="drop"))


def test_fixture_copybook_on_disk_is_used(juki_cb):
    assert (DATA / "juki.cpy").exists() and juki_cb.record("JUKI-TRL").field(
        "TRL-TAX-TOTAL"
    ).digits == 15


def test_byte_ranges_merge_to_one_summary(juki_cb, cp930, tmp_path):
    from dataclasses import replace

    from ikou.mainframe.engine_results import merge_summaries
    from ikou.mainframe.reader import byte_ranges

    recs = juki_records(juki_cb, cp930, PEOPLE * 5)
    r = bytearray(recs[4])
    r[0] = ord("Q")  # one unknown record type
    recs[4] = bytes(r)
    src = tmp_path / "J.DAT"
    src.write_bytes(frame_records(recs, "FB"))
    opts = juki_options()
    whole = decode_to_parquet(src, juki_cb, opts, tmp_path / "all.parquet")
    parts = []
    for i, rng in enumerate(byte_ranges(src.stat().st_size, 120, 3)):
        parts.append(
            decode_to_parquet(
                src, juki_cb, replace(opts, byte_range=rng), tmp_path / f"p{i}.parquet"
            )
        )
    assert not parts[0].trailer_ok  # a part alone has no trailer
    m = merge_summaries(parts)
    for k in (
        "records_in",
        "records_out",
        "header_records",
        "trailer_records",
        "quarantined",
        "bytes_read",
        "data_records",
        "by_reason",
    ):
        assert getattr(m, k) == getattr(whole, k), k
    assert [c.to_dict() for c in m.trailer_checks] == [c.to_dict() for c in whole.trailer_checks]
    assert m.accounted and m.header == whole.header
    assert (
        sum(pq.read_table(tmp_path / f"p{i}.parquet").num_rows for i in range(3))
        == whole.records_out
    )


def test_two_type_values_for_one_layout_keep_file_order(cp930):
    cb = parse_copybook(fixed("01  R.", "    05  T PIC X.", "    05  V PIC 9(2)."))
    lay = cb.record()
    recs = [encode_record(lay, {"T": t, "V": i}, cp930) for i, t in enumerate("DEDDE")]
    opts = DecodeOptions(encoding="cp930", record_type_field="T", record_types={"D": "R", "E": "R"})
    run, tables, _ = run_all(frame_records(recs, "FB"), cb, opts)
    assert tables["R"].column("V").to_pylist() == [0, 1, 2, 3, 4]


def test_variable_record_longer_than_its_layout(cp930):
    cb = parse_copybook(fixed("01  R.", "    05  A PIC X(3).", "    05  FILLER PIC X(2)."))
    recs = [b"\xc1\xc2\xc3\x40\x40", b"\xc1\xc2\xc3", b"\xc1\xc2\xc3\x40\x40\xff"]
    run, tables, q = run_all(
        frame_records(recs, "V"), cb, DecodeOptions(encoding="cp930", recfm="V")
    )
    assert tables["R"].column("A").to_pylist() == ["ABC", "ABC"]
    (row,) = q.to_pylist()
    assert (row["_record"], row["reason"], row["detail"]) == (
        2,
        "record_too_long",
        "record has 6 bytes, layout holds 5",
    )
