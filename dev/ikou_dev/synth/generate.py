"""Legacy extract files of the synthetic city, as the mainframe would write them.

For every legacy file in the registry: fixed-length EBCDIC records described by the file's
copybook, a header record (file id, snapshot) first and a trailer record (record count and
control totals of the amount fields) last, Japanese text in the file's code page, user-defined
characters (外字) as codes of the city's 外字 table. Seeded defects are applied at known rates and
every seeded record is written to the answer key (``_answer_key/defects.parquet`` and
``_answer_key/duplicates.parquet``) beside the data.

This module writes: the records of a built file chunk by chunk (header, data, trailer), the
answer-key rows, the snapshot manifests and reference data (:func:`write_all`). The columns of a
file are built in :mod:`ikou_dev.synth.builder`, its people chosen in
:mod:`ikou_dev.synth.selection`, its text and dates encoded by :mod:`ikou_dev.synth.legacy_text`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ikou.domains import Domain, LegacyFile, Registry
from ikou_dev.synth import city as C
from ikou_dev.synth.builder import Built, FileBuilder
from ikou_dev.synth.draws import Draws
from ikou_dev.synth.legacy_text import gaiji_csv
from ikou_dev.synth.population import Population
from ikou_dev.synth.selection import Duplicates, base_duplicates, select

DEFAULT_RATES = {
    "duplicate_addressee": 0.02,  # share of residents with a second 宛名 record (名寄せ)
    "notation_variant": 0.05,  # share of addresses written in a variant form (表記ゆれ)
    "impossible_wareki": 0.004,  # share of 和暦 date fields holding an impossible date
    "bad_check_digit": 0.004,  # share of 個人番号 with a wrong check digit
    "unmapped_gaiji": 0.002,  # share of name fields holding a 外字 code missing from the table
    "corrupt_record": 0.001,  # share of records with broken bytes (bad packed nibble, bad zoned digit)
    "orphan_reference": 0.0,  # share of 宛名番号 references to no addressee (off by default)
    "duplicate_key": 0.0,  # share of records repeating the business key before them (off by default)
}


def towns_csv(pop: Population) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["prefecture", "city", "ward", "town", "town_kana", "chome_max", "postal_code"])
    for t in pop.towns:
        w.writerow([C.PREFECTURE, C.CITY, t.ward, t.name, t.kana, t.chome_max, t.postal_code])
    return buf.getvalue()


CHUNK_ROWS = 1 << 17  # records encoded at a time (bounded memory whatever the city's size)


def encode_rows(b: Built, start: int, stop: int) -> np.ndarray:
    """Records ``start``..``stop`` of a built file as a (rows, LRECL) byte matrix."""
    out = np.empty((stop - start, len(b.template)), dtype=np.uint8)
    out[:] = b.template
    for c in b.columns:
        c.put(out, start, stop)
    for rows, offset, kind in b.corrupt:
        lo, hi = np.searchsorted(rows, [start, stop])
        r = rows[lo:hi] - start
        if kind == "packed":
            out[r, offset] = (out[r, offset] & 0x0F) | 0xA0  # 'A' is no decimal digit
        else:
            out[r, offset] = 0x7B  # '#' in EBCDIC: not a zoned digit
    return out


def write_file(
    b: Built, snapshot: dt.date, fh, on_chunk: Callable[[np.ndarray], None] | None = None
) -> tuple[int, str]:
    """Header, data records (chunk by chunk) and trailer into ``fh``; returns (bytes, sha256).

    ``on_chunk(records)`` sees every chunk of data records (a rows × LRECL byte matrix)."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record

    lf, cp = b.lf, b.enc.cp
    cb = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
    h = hashlib.sha256()
    size = 0

    def put(data: bytes) -> None:
        nonlocal size
        fh.write(data)
        h.update(data)
        size += len(data)

    put(
        encode_record(
            cb.record(lf.record_types["H"]),
            {
                "REC-TYPE": "H",
                "HDR-FILE-ID": lf.name[:8],
                "HDR-SNAPSHOT": int(snapshot.strftime("%Y%m%d")),
                "HDR-SYSTEM": "IKOUSYN",
            },
            cp,
        )
    )
    for start in range(0, b.rows, CHUNK_ROWS):
        chunk = encode_rows(b, start, min(b.rows, start + CHUNK_ROWS))
        if on_chunk is not None:
            on_chunk(chunk)
        put(chunk.tobytes())
    trl = {"REC-TYPE": "T", "TRL-COUNT": b.rows, **b.sums}
    put(encode_record(cb.record(lf.record_types["T"]), trl, cp))
    return size, h.hexdigest()


def key_text(b: Built, fname: str, rows: np.ndarray) -> list[str]:
    """The business key values of some rows as the answer key writes them."""
    if fname not in b.ints:
        return [""] * len(rows)
    v = b.ints[fname][rows]
    width = b.texts.get(fname)
    return [f"{x:0{width}d}" if width else str(x) for x in v.tolist()]


def answer_rows(domain_id: str, b: Built) -> dict[str, list]:
    """The answer-key rows of a built file (columns of defects.parquet)."""
    cols: dict[str, list] = {
        k: [] for k in ("domain", "file", "record", "key", "atena_no", "defect", "field", "detail")
    }
    lf = b.lf
    for rows, defect, fname, detail in b.seeded:
        k = len(rows)
        parts = [key_text(b, bk, rows) for bk in lf.business_keys]
        keys_ = ["|".join(x) for x in zip(*parts)] if parts else [""] * k
        atena = key_text(b, "ATENA-NO", rows) if "ATENA-NO" in b.ints else [""] * k
        cols["domain"] += [domain_id] * k
        cols["file"] += [lf.name] * k
        cols["record"] += (rows + 1).tolist()
        cols["key"] += keys_
        cols["atena_no"] += atena
        cols["defect"] += [defect] * k
        cols["field"] += [fname] * k
        cols["detail"] += list(detail) if not isinstance(detail, str) else [detail] * k
    return cols


#: 2: columnar generator, distinct business keys, duplicate_key defects; 3: draws keyed by person
#: (a later snapshot of the same city differs only where the city changed)
SYNTH_VERSION = "3"


def snapshot_manifest(
    domain: str, snapshot: str, files: list[dict], city: dict | None = None
) -> dict:
    doc = {
        "zone": "landing",
        "domain": domain,
        "snapshot": snapshot,
        "files": files,
        "written_by": "ikou synth",
    }
    if city:
        doc.update(city)
    return doc


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def build_file(
    pop: Population,
    seed: int,
    rates: dict[str, float],
    domain: Domain,
    lf: LegacyFile,
    dups: Duplicates | None,
) -> Built:
    """One legacy file of the city. Draws are keyed by person (:mod:`ikou_dev.synth.draws`), so a
    later snapshot of the same city (:mod:`ikou_dev.synth.changes`) differs only where it changed.
    """
    draws = Draws(seed).stream(domain.id)
    src = select(pop, lf.synth.population, lf.synth.rate, draws.stream(lf.name))
    return FileBuilder(pop, draws, rates).build(domain, lf, src, dups)


def write_all(
    registry: Registry,
    pop: Population,
    seed: int,
    rates: dict[str, float],
    emit: Callable[[str, bytes], None],
    domains: list[str] | None = None,
    emit_file: Callable[[str, Path], None] | None = None,
    city: dict | None = None,
    dups: Duplicates | None = None,
    observe: Callable[[Domain, LegacyFile, Built, np.ndarray], None] | None = None,
) -> dict:
    """Write every domain's files through ``emit(relative_path, bytes)``; returns a summary.

    Data files are written to a temporary file chunk by chunk and handed to
    ``emit_file(relative_path, path)`` (default: read back and ``emit``). Emission order is the
    publication order: per domain the data files and copybooks first, the snapshot manifest
    (``_manifest.json``) last; the answer key and reference data after. ``city`` (residents,
    seed, rates, versions) goes into every manifest. ``dups``: the 名寄せ duplicates (default:
    drawn here); ``observe(domain, file, built, records)`` sees each chunk of a file's data
    records (``records``: a rows × LRECL byte matrix, in order).
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    if emit_file is None:

        def emit_file(rel: str, path: Path) -> None:
            emit(rel, Path(path).read_bytes())

    snapshot = pop.snapshot
    snap = snapshot.isoformat()
    # 名寄せ duplicates: second 宛名 records of the same resident, in notation variants.
    if dups is None:
        dups = base_duplicates(pop, seed, rates)
    summary: dict[str, dict] = {}
    answer: dict[str, list] = {
        k: [] for k in ("domain", "file", "record", "key", "atena_no", "defect", "field", "detail")
    }
    counts: dict[str, int] = {}
    encodings: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="ikou-synth-") as tmp:
        for domain in registry:
            if domains and domain.id not in domains:
                continue
            # Each domain draws from its own generator: a subset (``domains``) writes the same
            # files as a full run would.
            files_meta = []
            for lf in domain.legacy_files:
                encodings.add(lf.encoding)
                built = build_file(pop, seed, rates, domain, lf, dups)
                rows = answer_rows(domain.id, built)
                for k in answer:
                    answer[k] += rows[k]
                for d in rows["defect"]:
                    counts[d] = counts.get(d, 0) + 1
                name = f"{lf.name}.dat"
                path = Path(tmp) / f"{domain.id}-{name}"
                with open(path, "wb") as fh:
                    seen = None
                    if observe is not None:

                        def seen(chunk, domain=domain, lf=lf, built=built):
                            observe(domain, lf, built, chunk)

                    size, digest = write_file(built, snapshot, fh, seen)
                sums = dict(built.sums)
                del built
                emit_file(f"{domain.id}/{snap}/{name}", path)
                path.unlink(missing_ok=True)
                emit(f"{domain.id}/{snap}/{lf.copybook}", lf.copybook_path.read_bytes())
                records = (size // lf.lrecl) - 2
                files_meta.append(
                    {
                        "name": name,
                        "legacy_file": lf.name,
                        "dataset": lf.dataset,
                        "copybook": lf.copybook,
                        "encoding": lf.encoding,
                        "recfm": lf.recfm,
                        "lrecl": lf.lrecl,
                        "records": records,
                        "bytes": size,
                        "sha256": digest,
                        "control_totals": {"TRL-COUNT": records, **sums},
                    }
                )
                summary.setdefault(domain.id, {})[lf.name] = records
            emit(
                f"{domain.id}/{snap}/_manifest.json",
                dumps(snapshot_manifest(domain.id, snap, files_meta, city)),
            )
    emit(f"_reference/{snap}/gaiji.csv", gaiji_csv(sorted(encodings)).encode("utf-8"))
    emit(f"_reference/{snap}/towns.csv", towns_csv(pop).encode("utf-8"))
    defects = pa.table(
        {
            "domain": pa.array(answer["domain"], pa.string()),
            "file": pa.array(answer["file"], pa.string()),
            "record": pa.array(answer["record"], pa.int64()),
            "key": pa.array(answer["key"], pa.string()),
            "atena_no": pa.array(answer["atena_no"], pa.string()),
            "defect": pa.array(answer["defect"], pa.string()),
            "field": pa.array(answer["field"], pa.string()),
            "detail": pa.array(answer["detail"], pa.string()),
        }
    )
    dup_table = pa.table(
        {
            "atena_no": pa.array([f"{a:010d}" for a in dups.atena.tolist()], pa.string()),
            "duplicate_of": pa.array(
                [f"{a:010d}" for a in pop.atena[dups.person].tolist()], pa.string()
            ),
            "how": pa.array([Duplicates.HOW[h] for h in dups.how.tolist()], pa.string()),
        }
    )
    for name, table in (("defects.parquet", defects), ("duplicates.parquet", dup_table)):
        buf = io.BytesIO()
        pq.write_table(table, buf)
        emit(f"_answer_key/{snap}/{name}", buf.getvalue())
    counts["duplicate_addressee"] = len(dups.atena)
    return {
        "snapshot": snap,
        "seed": seed,
        "residents": pop.n_residents,
        "addressees": len(pop) + len(dups.atena),
        "records": summary,
        "seeded": counts,
        "rates": rates,
    }
