"""`ikou land`: a vendor's files into a domain's landing zone — checked against the registry,
uploaded, the manifest written last — and read by the extract stage like any snapshot.

The "vendor's files" are legacy files written to a local folder (the synthetic city's, renamed
as a vendor names them: by dataset, compressed); every refusal leaves the landing zone empty."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from ikou.errors import BadArgument, Refused, Unreadable
from ikou.stages.land import land

pytestmark = [pytest.mark.integration]

SOURCE_SNAPSHOT = "2026-07-01"


@pytest.fixture(scope="module")
def vendor_files(s3_endpoint, tmp_path_factory):
    """juki's two legacy files as the vendor hands them over: named by dataset, one gzipped."""
    from ikou_dev.synth import synthesize

    out = tmp_path_factory.mktemp("vendor")
    synthesize(120, 41, SOURCE_SNAPSHOT, str(out / "synth"), domains=["juki"])
    src = out / "synth" / "juki" / SOURCE_SNAPSHOT
    atena = out / "JUKI.ATENA.MASTER"
    shutil.copy(src / "ATENA.dat", atena)
    jumin = out / "JUKI.JUMIN.MASTER.dat.gz"
    with open(src / "JUKI.dat", "rb") as fh, gzip.open(jumin, "wb") as gz:
        shutil.copyfileobj(fh, gz)
    return {"ATENA": atena, "JUMIN": jumin, "dir": out}


def _landed(snapshot: str) -> list[str]:
    from ikou.storage import Store, landing_uri

    return list(Store().list(landing_uri("juki", snapshot)))


def test_land_then_extract(vendor_files, capsys):
    from ikou import cli
    from ikou.pipeline import RunContext
    from ikou.stages import extract
    from ikou.storage import Store, join, landing_uri

    snapshot = "2026-07-02"
    argv = ["land", "--domain", "juki", "--snapshot", "20260702", "--who", "山田 (vendor desk)"]
    assert cli.main(argv + [str(vendor_files["ATENA"]), str(vendor_files["JUMIN"])]) == 0
    out = capsys.readouterr().out
    assert "landed ATENA" in out and "landed JUKI" in out
    manifest = json.loads(Store().get_bytes(join(landing_uri("juki", snapshot), "_manifest.json")))
    assert manifest["written_by"] == "ikou land" and manifest["landed_by"] == "山田 (vendor desk)"
    by_file = {f["legacy_file"]: f for f in manifest["files"]}
    assert by_file["JUKI"]["name"] == "JUKI.dat.gz"
    assert by_file["JUKI"]["bytes_decompressed"] > by_file["JUKI"]["bytes"]
    assert len(by_file["ATENA"]["sha256"]) == 64 and by_file["ATENA"]["trial"]["records"] > 100
    # the manifest came last: every file it lists is there
    assert sorted(_landed(snapshot)) == sorted(
        join(landing_uri("juki", snapshot), n)
        for n in ["_manifest.json", *(f["name"] for f in manifest["files"])]
    )
    # the extract stage reads the landed snapshot, the compressed file included
    result = extract.run(RunContext.build(domain="juki", run_id="land_test", snapshot=snapshot))
    assert result.records_out > 200 and result.units.keys() >= {"ATENA", "JUKI"}


def test_a_snapshot_is_landed_once(vendor_files):
    with pytest.raises(Refused, match="already landed"):
        land("juki", "2026-07-02", [str(vendor_files["ATENA"]), str(vendor_files["JUMIN"])], "x")


def test_a_file_the_registry_does_not_know_is_refused(vendor_files):
    other = vendor_files["dir"] / "KOSEKI.MASTER.dat"
    shutil.copy(vendor_files["ATENA"], other)
    with pytest.raises(Refused, match="not a file of juki in the registry"):
        land("juki", "2026-07-03", [str(other), str(vendor_files["JUMIN"])], "x")
    assert _landed("2026-07-03") == []


def test_a_cut_transfer_is_refused(vendor_files):
    cut = vendor_files["dir"] / "ATENA.dat"
    data = vendor_files["ATENA"].read_bytes()
    cut.write_bytes(data[:-7])  # not a whole number of records
    with pytest.raises(Refused, match="not a whole number of"):
        land("juki", "2026-07-04", [str(cut), str(vendor_files["JUMIN"])], "x")
    assert _landed("2026-07-04") == []


def test_the_wrong_file_under_a_right_name_is_refused_by_the_trial_decode(vendor_files):
    """Text bytes named as ATENA: every record of the right length, none decodes."""
    from ikou.domains import registry

    d = registry().get("juki")
    lrecl = {lf.name: lf.lrecl for lf in d.legacy_files}
    wrong = vendor_files["dir"] / "ATENA.wrong.dat"
    # ASCII text where EBCDIC is expected: every record of the right length, none decodes
    wrong.write_bytes(("x" * (lrecl["ATENA"] - 1) + "\n").encode("ascii") * 50)
    with pytest.raises(Refused, match="trial decode"):
        land("juki", "2026-07-05", [f"ATENA={wrong}", str(vendor_files["JUMIN"])], "x")
    assert _landed("2026-07-05") == []


def test_every_legacy_file_is_needed(vendor_files):
    with pytest.raises(Refused, match="missing: JUKI"):
        land("juki", "2026-07-06", [str(vendor_files["ATENA"])], "x")
    assert _landed("2026-07-06") == []


def test_bad_arguments(vendor_files):
    with pytest.raises(BadArgument, match="--snapshot"):
        land("juki", "2026-02-30", [str(vendor_files["ATENA"])], "x")
    with pytest.raises(BadArgument, match="--domain"):
        land("nosuch", "2026-07-07", [str(vendor_files["ATENA"])], "x")
    with pytest.raises(BadArgument, match="--who"):
        land("juki", "2026-07-07", [str(vendor_files["ATENA"])], "")
    with pytest.raises(Unreadable, match="no such file"):
        land("juki", "2026-07-07", [str(vendor_files["dir"] / "nothing.dat")], "x")
    with pytest.raises(Refused, match="is not a legacy file of juki"):
        land("juki", "2026-07-07", [f"NOSUCH={vendor_files['ATENA']}"], "x")


def test_land_from_an_s3_prefix(vendor_files):
    from ikou.storage import Store

    store = Store()
    for name in ("ATENA", "JUMIN"):
        store.put_file(
            f"s3://ikou-restricted/incoming/2026-07-08/{vendor_files[name].name}",
            vendor_files[name],
        )
    manifest = land("juki", "2026-07-08", ["s3://ikou-restricted/incoming/2026-07-08/"], "x")
    assert {f["legacy_file"] for f in manifest["files"]} == {"ATENA", "JUKI"}
    assert all(f["source"].startswith("s3://ikou-restricted/incoming/") for f in manifest["files"])
