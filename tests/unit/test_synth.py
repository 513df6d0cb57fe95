"""ikou_dev.synth: the synthetic legacy city — deterministic, complete, decodable, consistent, and its
answer key tells the truth about the seeded defects."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.domains import registry
from ikou.domains.schema import ADDRESSEE_REFERENCE_ROLES
from ikou.identifiers import is_valid_my_number
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.engine import decode_file
from ikou.mainframe.engine_options import DecodeOptions
from ikou.storage import Store
from ikou.wareki import COMMON_SCHEME, WarekiError, parse_wareki
from ikou_dev.synth import synthesize
from ikou_dev.synth.legacy_text import IMPOSSIBLE_WAREKI, UNMAPPED_GAIJI_CODES

SNAP = "2026-11-01"
RESIDENTS = 300
SEED = 20261101
# Raised defect rates for the defect checks: enough seeded records in a 300-resident city.
RAISED = {
    "corrupt_record": 0.01,
    "unmapped_gaiji": 0.03,
    "impossible_wareki": 0.02,
    "bad_check_digit": 0.02,
}


class RecordingStore(Store):
    """A local Store that remembers the order of what was written."""

    def __init__(self):
        super().__init__()
        self.order: list[str] = []

    def put_bytes(self, uri, data, content_type=None):
        self.order.append(str(uri))
        super().put_bytes(uri, data, content_type)

    def put_file(self, uri, path, content_type=None):
        self.order.append(str(uri))
        super().put_file(uri, path, content_type)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    store = RecordingStore()
    out = {
        "a": (
            base / "a",
            synthesize(
                residents=RESIDENTS, seed=SEED, snapshot=SNAP, out=str(base / "a"), store=store
            ),
        ),
        "b": (
            base / "b",
            synthesize(residents=RESIDENTS, seed=SEED, snapshot=SNAP, out=str(base / "b")),
        ),
        "c": (
            base / "c",
            synthesize(residents=RESIDENTS, seed=SEED + 1, snapshot=SNAP, out=str(base / "c")),
        ),
        "raised": (
            base / "r",
            synthesize(
                residents=RESIDENTS, seed=SEED, snapshot=SNAP, out=str(base / "r"), rates=RAISED
            ),
        ),
    }
    out["order"] = store.order
    return out


def _options(lf, gaiji: Path, name: str) -> DecodeOptions:
    """As the extract stage builds them (placeholder policy for 外字)."""
    from ikou.stages.extract import extract_options

    return replace(extract_options(lf, name, gaiji), gaiji_policy="placeholder")


@pytest.fixture(scope="module")
def decoded(runs):
    """(domain, file) -> dict(summary, table of good records, quarantine rows, 外字 occurrences, manifest entry)."""
    root, _ = runs["raised"]
    gaiji = root / "_reference" / SNAP / "gaiji.csv"
    out = {}
    for d in registry():
        folder = root / d.id / SNAP
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        for lf in d.legacy_files:
            entry = next(f for f in manifest["files"] if f["legacy_file"] == lf.name)
            cb = parse_copybook(
                (folder / lf.copybook).read_text(encoding="utf-8"), source=lf.copybook
            )
            run = decode_file(folder / entry["name"], cb, _options(lf, gaiji, entry["name"]))
            chunks = list(run)
            batches = [rb for c in chunks for rb in c.batches.values()]
            table = pa.Table.from_batches(batches) if batches else None
            quarantine = [r for c in chunks for r in c.quarantine.to_pylist()]
            out[(d.id, lf.name)] = {
                "summary": run.summary,
                "table": table,
                "quarantine": quarantine,
                "gaiji": run.gaiji_occurrences().to_pylist(),
                "entry": entry,
            }
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(runs):
    a, b = _files(runs["a"][0]), _files(runs["b"][0])
    assert a.keys() == b.keys()
    dat = [k for k in a if k.endswith(".dat")]
    assert len(dat) == sum(len(d.legacy_files) for d in registry())
    for k in a:
        assert a[k] == b[k], k
    assert runs["a"][1]["seeded"] == runs["b"][1]["seeded"]
    assert runs["a"][1]["records"] == runs["b"][1]["records"]


def test_another_seed_gives_another_city(runs):
    a, c = _files(runs["a"][0]), _files(runs["c"][0])
    assert a.keys() == c.keys()
    dat = [k for k in a if k.endswith(".dat")]
    differ = [k for k in dat if a[k] != c[k]]
    assert "juki/%s/ATENA.dat" % SNAP in differ
    assert len(differ) >= len(dat) - 2  # tiny files might coincide; the city as a whole does not
    # copybooks are the registry's, whatever the seed
    cpy = [k for k in a if k.endswith(".cpy")]
    assert cpy and all(a[k] == c[k] for k in cpy)


def test_summary(runs):
    root, summary = runs["a"]
    assert summary["residents"] == RESIDENTS
    assert summary["seed"] == SEED and summary["snapshot"] == SNAP
    assert summary["files"] == len(_files(root))
    assert summary["bytes"] == sum(len(v) for v in _files(root).values())
    assert set(summary["records"]) == set(registry().ids)


def test_a_city_needs_residents_and_known_rates(tmp_path):
    with pytest.raises(ValueError):
        synthesize(residents=5, seed=1, snapshot=SNAP, out=str(tmp_path))
    with pytest.raises(ValueError, match="unknown defect rates"):
        synthesize(residents=50, seed=1, snapshot=SNAP, out=str(tmp_path), rates={"typo": 0.5})


# ----------------------------------------------------------------------------- completeness


def test_every_legacy_file_with_its_copybook_and_manifest(runs):
    root, summary = runs["a"]
    for d in registry():
        folder = root / d.id / SNAP
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        assert (
            manifest["domain"] == d.id
            and manifest["snapshot"] == SNAP
            and manifest["zone"] == "landing"
        )
        assert {f["legacy_file"] for f in manifest["files"]} == {lf.name for lf in d.legacy_files}
        for lf in d.legacy_files:
            entry = next(f for f in manifest["files"] if f["legacy_file"] == lf.name)
            data = (folder / entry["name"]).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["bytes"] == len(data)
            assert (entry["encoding"], entry["recfm"], entry["lrecl"]) == (
                lf.encoding,
                lf.recfm,
                lf.lrecl,
            )
            assert entry["copybook"] == lf.copybook and entry["dataset"] == lf.dataset
            assert (folder / lf.copybook).read_bytes() == lf.copybook_path.read_bytes()
            # fixed-length records: header + data + trailer
            assert len(data) == (entry["records"] + 2) * lf.lrecl
            assert entry["records"] == summary["records"][d.id][lf.name]
            assert entry["control_totals"]["TRL-COUNT"] == entry["records"]


def test_the_manifest_is_written_last(runs):
    order = runs["order"]
    for d in registry():
        prefix = f"/{d.id}/{SNAP}/"
        mine = [u for u in order if prefix in u]
        assert mine[-1].endswith("_manifest.json"), d.id
        assert sum(u.endswith("_manifest.json") for u in mine) == 1
        assert sum(u.endswith(".dat") for u in mine) == len(d.legacy_files)


def test_reference_data(runs):
    root, _ = runs["a"]
    ref = root / "_reference" / SNAP
    rows = list(csv.DictReader(io.StringIO((ref / "gaiji.csv").read_text(encoding="utf-8"))))
    assert rows and list(rows[0]) == ["encoding", "legacy_code", "unicode", "mj_name", "note"]
    encodings = {lf.encoding for d in registry() for lf in d.legacy_files}
    assert {r["encoding"] for r in rows} == encodings
    for r in rows:
        int(r["legacy_code"], 16)
        assert all(u.startswith("U+") for u in r["unicode"].split())
        assert r["legacy_code"] not in UNMAPPED_GAIJI_CODES
    towns = list(csv.DictReader(io.StringIO((ref / "towns.csv").read_text(encoding="utf-8"))))
    assert towns and {"prefecture", "city", "ward", "town", "postal_code"} <= set(towns[0])
    assert {t["city"] for t in towns} == {"架空市"}


# ----------------------------------------------------------------------------- decoding


def test_every_file_decodes_and_its_trailer_closes(decoded):
    for (d, name), x in decoded.items():
        s = x["summary"]
        assert s.complete, (d, name)
        assert s.header_records == 1 and s.trailer_records == 1, (d, name)
        assert s.accounted, (d, name)
        trailer_count = int(s.trailer["TRL-COUNT"])
        assert s.records_out + s.quarantined == trailer_count == x["entry"]["records"], (d, name)
        assert s.trailer_checks and s.trailer_ok, (d, name, [c.to_dict() for c in s.trailer_checks])
        assert s.header["HDR-SNAPSHOT"] == int(SNAP.replace("-", ""))
        assert (x["table"].num_rows if x["table"] is not None else 0) == s.records_out
        assert len(x["quarantine"]) == s.quarantined


def test_references_point_to_addressees_that_exist(decoded):
    atena = set(decoded[("juki", "ATENA")]["table"].column("ATENA-NO").to_pylist())
    assert len(atena) == decoded[("juki", "ATENA")]["summary"].records_out  # unique
    checked = 0
    for d in registry():
        for lf in d.legacy_files:
            table = decoded[(d.id, lf.name)]["table"]
            for fname in lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES):
                values = [v for v in table.column(fname).to_pylist() if v is not None]
                missing = set(values) - atena
                assert not missing, (d.id, lf.name, fname, len(missing))
                checked += len(values)
    assert checked > 1000


def test_residents_are_addressees(decoded):
    atena = decoded[("juki", "ATENA")]["table"]
    kinds = dict(zip(atena.column("ATENA-NO").to_pylist(), atena.column("ATENA-KBN").to_pylist()))
    jumin = decoded[("juki", "JUKI")]["table"].column("ATENA-NO").to_pylist()
    assert all(kinds.get(a) == "1" for a in jumin)
    assert {"1", "2", "3"} <= set(kinds.values())  # residents, non-residents, corporations


# ----------------------------------------------------------------------------- the answer key


@pytest.fixture(scope="module")
def answer_key(runs):
    root, _ = runs["raised"]
    key = root / "_answer_key" / SNAP
    return pq.read_table(key / "defects.parquet").to_pylist(), pq.read_table(
        key / "duplicates.parquet"
    ).to_pylist()


def test_answer_key_files(runs, answer_key):
    defects, dups = answer_key
    root, summary = runs["raised"]
    table = pq.read_table(root / "_answer_key" / SNAP / "defects.parquet")
    assert table.column_names == [
        "domain",
        "file",
        "record",
        "key",
        "atena_no",
        "defect",
        "field",
        "detail",
    ]
    assert pq.read_table(root / "_answer_key" / SNAP / "duplicates.parquet").column_names == [
        "atena_no",
        "duplicate_of",
        "how",
    ]
    counts = {}
    for row in defects:
        counts[row["defect"]] = counts.get(row["defect"], 0) + 1
    counts["duplicate_addressee"] = len(dups)
    assert counts == summary["seeded"]
    for defect in (
        "corrupt_record",
        "unmapped_gaiji",
        "impossible_wareki",
        "bad_check_digit",
        "duplicate_addressee",
    ):
        assert counts.get(defect, 0) > 0, defect


def test_every_seeded_corrupt_record_is_quarantined_and_nothing_else(decoded, answer_key):
    defects, _ = answer_key
    seeded: dict[tuple, set] = {}
    for row in defects:
        if row["defect"] == "corrupt_record":
            seeded.setdefault((row["domain"], row["file"]), set()).add(
                (row["record"], row["field"])
            )
    assert sum(len(v) for v in seeded.values()) >= 5
    for k, x in decoded.items():
        quarantined = {(q["_record"], q["field"]) for q in x["quarantine"]}
        assert quarantined == seeded.get(k, set()), k


def test_every_seeded_unmapped_gaiji_is_found_by_the_decoder(decoded, answer_key):
    defects, _ = answer_key
    seen = 0
    for row in defects:
        if row["defect"] != "unmapped_gaiji":
            continue
        occ = decoded[(row["domain"], row["file"])]["gaiji"]
        hits = [o for o in occ if o["_record"] == row["record"] and o["field"] == row["field"]]
        assert hits, row["record"]
        assert row["detail"] in {o["legacy_code"] for o in hits}
        assert row["detail"] in UNMAPPED_GAIJI_CODES
        seen += 1
    assert seen > 0
    # and the decoder reports no unmapped 外字 that was not seeded
    seeded = {
        (r["domain"], r["file"], r["record"]) for r in defects if r["defect"] == "unmapped_gaiji"
    }
    for (d, name), x in decoded.items():
        for o in x["gaiji"]:
            assert (d, name, o["_record"]) in seeded


def _good_row(decoded, row) -> dict | None:
    table = decoded[(row["domain"], row["file"])]["table"]
    recs = table.column("_record").to_pylist()
    if row["record"] not in recs:
        return None  # the record was also corrupted and quarantined
    return table.slice(recs.index(row["record"]), 1).to_pylist()[0]


def test_seeded_impossible_wareki_are_rejected_by_parse_wareki(decoded, answer_key):
    defects, _ = answer_key
    values = {v for v, _ in IMPOSSIBLE_WAREKI}
    n = 0
    for row in defects:
        if row["defect"] != "impossible_wareki":
            continue
        rec = _good_row(decoded, row)
        if rec is None:
            continue
        v = rec[row["field"]]
        assert v in values
        with pytest.raises(WarekiError):
            parse_wareki(f"{v:07d}", COMMON_SCHEME)
        n += 1
    assert n > 0


def test_seeded_bad_check_digits_are_invalid(decoded, answer_key):
    defects, _ = answer_key
    n = 0
    for row in defects:
        if row["defect"] != "bad_check_digit":
            continue
        rec = _good_row(decoded, row)
        if rec is None:
            continue
        assert not is_valid_my_number(rec[row["field"]])
        n += 1
    assert n > 0


def test_unseeded_my_numbers_are_valid(decoded, answer_key):
    defects, _ = answer_key
    bad = {(r["file"], r["record"]) for r in defects if r["defect"] == "bad_check_digit"}
    atena = decoded[("juki", "ATENA")]["table"]
    for rec, kind, value in zip(
        atena.column("_record").to_pylist(),
        atena.column("ATENA-KBN").to_pylist(),
        atena.column("KOJIN-NO").to_pylist(),
    ):
        if kind == "1" and ("ATENA", rec) not in bad and value:
            assert is_valid_my_number(value), rec


def test_duplicates_are_addressees(decoded, answer_key):
    _, dups = answer_key
    atena = {
        f"{v:010d}" for v in decoded[("juki", "ATENA")]["table"].column("ATENA-NO").to_pylist()
    }
    assert dups
    for d in dups:
        assert d["atena_no"] in atena and d["duplicate_of"] in atena
        assert d["atena_no"] != d["duplicate_of"]
        assert d["how"] in {"old_address", "kana", "address_variant", "name_form"}


# ----------------------------------------------------------------------------- proportions


def test_proportions_are_plausible(runs):
    _, summary = runs["a"]
    rec = summary["records"]
    reg = registry()
    residents = rec["juki"]["JUKI"]
    assert residents == RESIDENTS
    assert rec["juki"]["ATENA"] > residents  # plus non-residents, corporations and duplicates
    assert rec["juki"]["ATENA"] == summary["addressees"]
    for d, small in (
        ("kaigo", "KAIGO"),
        ("senkyo", "SENKYO"),
        ("jido_teate", "JIDO"),
        ("shugaku", "GAKUREI"),
        ("kokuho", "KOKUHO"),
        ("seikatsu_hogo", "SEIHO"),
        ("inkan", "INKAN"),
    ):
        assert 0 < rec[d][small] < residents, d
    assert rec["senkyo"]["SENKYO"] > rec["kaigo"]["KAIGO"]  # voters outnumber the insured over 65
    assert rec["seikatsu_hogo"]["SEIHO"] < rec["kokuho"]["KOKUHO"]
    assert rec["jido_fuyo_teate"]["FUYO"] <= rec["jido_teate"]["JIDO"]
    # against the registry's expected counts at the real city's scale
    real_residents = reg.get("juki").legacy_file("JUKI").expected_records
    for d in reg:
        for lf in d.legacy_files:
            expected = lf.expected_records / real_residents
            got = rec[d.id][lf.name] / residents
            if expected >= 0.1:
                assert expected / 2.5 <= got <= expected * 2.5, (d.id, lf.name, got, expected)
