"""``ikou decode --domain D --file F`` (the registry's options), the summary JSON's provenance
(effective options, sha256 of the copybook / input / 外字 table, code version) and
``ikou decode --hex --limit N`` (issue 14 §1), through the ``ikou`` command line with real files."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ikou.cli import main

SNAPSHOT = "2026-05-01"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """住民基本台帳's two legacy files and the 外字 table, written by synth (seeded defects)."""
    from ikou_dev.synth import synthesize

    out = tmp_path_factory.mktemp("city")
    synthesize(60, 7, SNAPSHOT, str(out), domains=["juki"])
    return out


@pytest.fixture(autouse=True)
def _deployment_policy(monkeypatch):
    monkeypatch.delenv("IKOU_GAIJI_POLICY", raising=False)


def _dat(city: Path, name: str) -> Path:
    return city / "juki" / SNAPSHOT / f"{name}.dat"


def _gaiji(city: Path) -> Path:
    return city / "_reference" / SNAPSHOT / "gaiji.csv"


def _atena():
    from ikou.domains import registry

    return next(lf for lf in registry().get("juki").legacy_files if lf.name == "ATENA")


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_domain_file_decodes_as_the_same_options_given_explicitly(city, tmp_path, capsys):
    lf = _atena()
    dat, gaiji = _dat(city, "ATENA"), _gaiji(city)
    a, b = tmp_path / "registry", tmp_path / "explicit"
    a.mkdir(), b.mkdir()
    rc = main(
        ["decode", "--domain", "juki", "--file", "JUKI.ATENA.MASTER", str(dat)]
        + ["-o", str(a / "atena.parquet"), "--summary-json", str(a / "s.json")]
        + ["--gaiji", str(gaiji)]
    )
    assert rc == 0, capsys.readouterr().err
    # what the registry entry says (juki.yaml), spelled out on the command line
    explicit = [
        "decode",
        "--copybook", str(lf.copybook_path),
        "--encoding", "cp930",
        "--recfm", "FB",
        "--lrecl", "350",
        "--record-type-field", "REC-TYPE",
        "--record-type", "H=ATENA-HDR:header",
        "--record-type", "D=ATENA-DATA",
        "--record-type", "T=ATENA-TRL:trailer",
        "--record-count-field", "TRL-COUNT",
        "--mixed-field", "JUSHO",
        "--trim", "right",
        "--gaiji", str(gaiji),
        str(dat),
        "-o", str(b / "atena.parquet"),
        "--summary-json", str(b / "s.json"),
    ]  # fmt: skip
    assert main(explicit) == 0, capsys.readouterr().err
    ta, tb = pq.read_table(a / "atena.parquet"), pq.read_table(b / "atena.parquet")
    assert ta.num_rows > 50 and ta.equals(tb)
    qa = (a / "atena.parquet.quarantine.jsonl").read_bytes()
    assert qa == (b / "atena.parquet.quarantine.jsonl").read_bytes()
    sa, sb = (json.loads((d / "s.json").read_text()) for d in (a, b))
    assert sa["options"] == sb["options"]  # the effective options are the same, field by field
    assert sa["copybook"] == sb["copybook"]
    assert sa["registry"] == {"domain": "juki", "file": "ATENA", "dataset": "JUKI.ATENA.MASTER"}
    assert sb["registry"] is None
    for k in ("records_in", "records_out", "quarantined", "gaiji_unmapped", "trailer_checks"):
        assert sa[k] == sb[k], k


def test_summary_records_what_reproduces_the_decode(city, tmp_path, capsys):
    import ikou

    lf = _atena()
    dat, gaiji = _dat(city, "ATENA"), _gaiji(city)
    out, summary = tmp_path / "atena.parquet", tmp_path / "s.json"
    rc = main(
        ["decode", "--domain", "juki", "--file", "atena", str(dat), "-o", str(out)]
        + ["--summary-json", str(summary), "--gaiji", str(gaiji)]
    )
    assert rc == 0, capsys.readouterr().err
    s = json.loads(summary.read_text(encoding="utf-8"))
    assert s["input"] == {"path": str(dat), "sha256": _sha(dat), "bytes": dat.stat().st_size}
    assert s["copybook"]["sha256"] == _sha(lf.copybook_path)
    assert s["copybook"]["path"] == str(lf.copybook_path)
    assert s["copybook"]["options"]["format"] == lf.decode.copybook_format
    assert s["gaiji_table"]["sha256"] == _sha(gaiji)
    assert s["code"]["ikou"] == ikou.__version__
    commit = s["code"]["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    o = s["options"]
    assert (o["encoding"], o["recfm"], o["lrecl"]) == ("cp930", "FB", 350)
    assert o["record_types"] == dict(lf.record_types) and o["mixed_fields"] == ["JUSHO"]
    assert o["gaiji_policy"] == "placeholder"  # the deployment's, as the extract stage
    # no record content in the summary: none of the decoded names, addresses or numbers
    text = summary.read_text(encoding="utf-8")
    t = pq.read_table(out)
    for column in ("SHIMEI", "JUSHO", "ATENA-NO", "KOJIN-NO"):
        for v in t.column(column).to_pylist()[:30]:
            assert v in (None, "") or str(v) not in text, column


def test_the_summary_alone_reproduces_the_decode(city, tmp_path, capsys):
    """An auditor with the summary JSON, the input and the copybook gets the same records."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_to_parquet
    from ikou.mainframe.engine_options import DecodeOptions

    dat, out, summary = _dat(city, "JUKI"), tmp_path / "juki.parquet", tmp_path / "s.json"
    rc = main(
        ["decode", "--domain", "juki", "--file", "JUKI", str(dat), "-o", str(out)]
        + ["--summary-json", str(summary), "--gaiji", str(_gaiji(city))]
    )
    assert rc == 0, capsys.readouterr().err
    s = json.loads(summary.read_text(encoding="utf-8"))
    cb_path = Path(s["copybook"]["path"])
    assert _sha(cb_path) == s["copybook"]["sha256"] and _sha(dat) == s["input"]["sha256"]
    cb = parse_copybook(
        cb_path.read_text(encoding="utf-8"), source=str(cb_path), **s["copybook"]["options"]
    )
    opts = DecodeOptions(**s["options"], gaiji=s["gaiji_table"]["path"])
    again = tmp_path / "again.parquet"
    decode_to_parquet(dat, cb, opts, again, tmp_path / "again.quarantine.jsonl")
    assert pq.read_table(again).drop(["_file"]).equals(pq.read_table(out).drop(["_file"]))


@pytest.mark.parametrize(
    "argv, says",
    [
        (
            ["--domain", "nosuch", "--file", "ATENA", "-o", "{tmp}/o.parquet"],
            "unknown domain; known: hojin_juminzei, inkan",
        ),
        (
            ["--domain", "juki", "--file", "NOSUCH", "-o", "{tmp}/o.parquet"],
            "its files: ATENA (JUKI.ATENA.MASTER), JUKI (JUKI.JUMIN.MASTER)",
        ),
        (["--domain", "juki"], "--domain and --file go together"),
        (["--domain", "juki", "--file", "ATENA", "--encoding", "cp939"], "--encoding: not with"),
        (["--domain", "juki", "--file", "ATENA", "--rdw-adjust", "4"], "--rdw-adjust: not with"),
        (["--domain", "juki", "--file", "ATENA", "--keep-padding"], "--keep-padding: not with"),
        (["--copybook", "x.cpy"], "--copybook and --encoding are required"),
        (["--domain", "juki", "--file", "ATENA", "--limit", "3"], "--limit N goes with --hex"),
        (["--domain", "juki", "--file", "ATENA", "--hex", "--limit", "0"], "positive"),
        (["--domain", "juki", "--file", "ATENA", "--hex", "--limit", "-2"], "positive"),
        (["--domain", "juki", "--file", "ATENA", "--hex", "--limit", "x"], "positive"),
        (["--domain", "juki", "--file", "ATENA", "--hex", "-o", "{tmp}/o.parquet"], "drop -o"),
        (
            ["--domain", "juki", "--file", "ATENA", "--hex", "--summary-json", "{tmp}/s.json"],
            "drop --summary-json",
        ),
        (["--domain", "juki", "--file", "ATENA"], "-o OUT is required"),
    ],
)
def test_bad_combinations_exit_2_with_one_line(city, tmp_path, capsys, argv, says):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc = main(["decode", *argv, str(_dat(city, "ATENA"))])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert says in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # nothing written


# --------------------------------------------------------------------------------- --hex

COPYBOOK = """\
       01  REC.
           05  REC-ID      PIC X(4).
           05  AMOUNT      PIC S9(5)V99 COMP-3.
           05  CNT         PIC 9(4) COMP.
           05  NAME        PIC X(6).
"""
GOOD = bytes.fromhex("C1C2F1F20012345C0102E7E8404040 40".replace(" ", ""))
BAD = bytes.fromhex("C1C2F1F3001F345C0003E7404040 4040".replace(" ", ""))


def _field_line(out: str, record: int, name: str) -> str:
    block = out.split(f"record {record} @ ")[1].split("\nrecord ")[0]
    return next(line for line in block.splitlines()[1:] if f" {name} " in line)


def test_hex_shows_fields_with_offsets_values_and_raw_bytes(tmp_path, capsys):
    cpy, dat = tmp_path / "rec.cpy", tmp_path / "REC.DAT"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    dat.write_bytes(GOOD + BAD + GOOD)
    before = sorted(tmp_path.iterdir())
    argv = ["decode", "--copybook", str(cpy), "--encoding", "cp037", str(dat), "--hex"]
    rc = main([*argv, "--limit", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert sorted(tmp_path.iterdir()) == before  # the terminal only: no file written
    assert "first 2 record(s), cp037, FB, LRECL 16" in out
    assert "record 0 @ 0 (layout bytes from 0), 16 bytes, layout REC: kept" in out
    assert "record 1 @ 16 " in out and "record 2 @" not in out
    amount = _field_line(out, 0, "AMOUNT").split()
    assert amount[:2] == ["4", "4"] and "123.45" in amount
    assert amount[-4:] == ["00", "12", "34", "5C"]
    cnt = _field_line(out, 0, "CNT").split()
    assert cnt[:2] == ["8", "2"] and "258" in cnt and cnt[-2:] == ["01", "02"]
    name = _field_line(out, 0, "NAME")
    assert '"XY"' in name and name.endswith("E7 E8 40 40 40 40")
    # the bad packed nibble: the record is quarantined, the field shows null and the reason
    assert re.search(r"record 1 @ 16 .*: quarantined: bad_nibble AMOUNT", out)
    bad = _field_line(out, 1, "AMOUNT")
    assert "null  [bad_nibble]" in bad and bad.endswith("00 1F 34 5C")
    assert '"AB13"' in _field_line(out, 1, "REC-ID")
    # the offsets are the copybook layout report's
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.layout_report import layout_rows

    rows = {r["name"]: r for r in layout_rows(parse_copybook(COPYBOOK))}
    for f in ("REC-ID", "AMOUNT", "CNT", "NAME"):
        line = _field_line(out, 0, f).split()
        assert [int(line[0]), int(line[1])] == [rows[f]["offset"], rows[f]["size"]]


def test_hex_without_limit_shows_ten_records(tmp_path, capsys):
    cpy, dat = tmp_path / "rec.cpy", tmp_path / "REC.DAT"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    dat.write_bytes(GOOD * 25)
    rc = main(["decode", "--copybook", str(cpy), "--encoding", "cp037", str(dat), "--hex"])
    out = capsys.readouterr().out
    assert rc == 0 and "first 10 record(s)" in out
    assert "record 9 @ 144 " in out and "record 10 @" not in out


def test_hex_with_the_registry_options(city, capsys):
    dat = _dat(city, "JUKI")
    rc = main(["decode", "--domain", "juki", "--file", "JUKI", str(dat), "--hex", "--limit", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "record 0 @ 0 (layout bytes from 0), 200 bytes, layout JUKI-HDR: header" in out
    assert "layout JUKI-DATA" in out
    head = dat.read_bytes()[:200]
    line = _field_line(out, 0, "HDR-SNAPSHOT").split()
    offset, size = int(line[0]), int(line[1])
    assert "20260501" in line
    assert " ".join(line[-size:]) == head[offset : offset + size].hex(" ").upper()


ODO_COPYBOOK = """\
       01  REC.
           05  REC-TYPE    PIC X.
           05  N-ITEMS     PIC 9(2).
           05  ITEMS OCCURS 0 TO 5 TIMES DEPENDING ON N-ITEMS.
               10  ITEM    PIC X(3).
           05  TAIL        PIC X(2).
"""


def test_hex_of_variable_records_follows_depending_on(tmp_path, capsys):
    """V records shorter than the layout: the table's bytes at its actual count, the fields
    after it shifted, and a cut-off last record shown as its bytes with the framing reason."""
    cpy, dat = tmp_path / "odo.cpy", tmp_path / "ODO.DAT"
    cpy.write_text(ODO_COPYBOOK, encoding="utf-8")
    recs = [s.encode("cp037") for s in ("D02AAABBBZZ", "D00YY")]
    body = b"".join((len(r) + 4).to_bytes(2, "big") + b"\0\0" + r for r in recs)
    body += (30).to_bytes(2, "big") + b"\0\0" + "D01".encode("cp037")  # RDW says 30, 7 remain
    dat.write_bytes(body)
    argv = ["decode", "--copybook", str(cpy), "--encoding", "cp037", "--recfm", "V", str(dat)]
    assert main([*argv, "--hex"]) == 0
    out = capsys.readouterr().out
    assert "first 3 record(s), cp037, V" in out
    item = _field_line(out, 0, "ITEM")
    assert '["AAA", "BBB"]' in item and item.endswith("C1 C1 C1 C2 C2 C2")
    tail = _field_line(out, 0, "TAIL").split()
    assert tail[:2] == ["9", "2"] and tail[-2:] == ["E9", "E9"]
    assert _field_line(out, 1, "ITEM").endswith("(none)")
    assert _field_line(out, 1, "TAIL").split()[:2] == ["3", "2"]
    assert "record 2 @ 24: truncated_record, 7 bytes — quarantined: truncated_record" in out
    assert "00 1E 00 00 C4 F0 F1" in out
