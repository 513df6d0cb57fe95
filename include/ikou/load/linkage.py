"""The interim data linkage back to the mainframe (データ連携, ``ikou link``, issue 12 §4).

While a domain is live on the standard system and others still run on the mainframe, the
mainframe programs read its changes from a file in the format they know: the linkage copybook of
the domain's registry entry (``linkage``), fixed-length EBCDIC in the file's code page with the
city's 外字 codes, one change record per changed row with the 異動区分 field (``I`` / ``U`` /
``D``) and the legacy fields of the row's source file, a header (the period) and a trailer with
control totals of the records written (all, and per 異動区分).

A row with no legacy form (a character with neither a code-page nor a 外字 code, a partial date
the standard row lost the year of, a value that does not fit) is held back: a worklist row with
the table, the 異動区分, the keyed hash of its business key, the field and the reason -- no value.
The trailer counts the records written only.

Output (a folder or an ``s3://`` prefix, in the restricted zone: the file holds personal data):
``<DATASET>.<to>.dat``, ``<DATASET>.<to>.worklist.json``, then ``_manifest.json`` last (sha256 of
each file, counts, code page, the copybook's sha256). Files are written to a temporary name and
renamed, an earlier manifest of the same name is removed first: a failed run leaves no manifest,
so no reader trusts a half-written set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from ikou.domains import registry
from ikou.errors import BadArgument, Refused
from ikou.hashing import keyed_hash
from ikou.load.control import Control
from ikou.load.control_tables import known_domain
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.encode import encode_record, frame_records
from ikou.mainframe.legacy_values import LegacyText, NoLegacyValue, ReverseMapping, gaiji_codes
from ikou.moji.gaiji import GaijiTable
from ikou.storage import MANIFEST, Store, code_version, is_s3, join, sha256_file

FORMAT = "ikou-link/1"
SYSTEM = "IKOU"
OPS = ("I", "U", "D")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class NotLive(Refused):
    """The domain is not live on the standard system: there is nothing to link back (exit 1)."""


def parse_date(value: object, option: str) -> dt.date:
    text = str(value or "")
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadArgument(f"{option} {text!r}: not a date YYYY-MM-DD") from None


def check_arguments(domain_id: str, date_from: object, date_to: object, out: str):
    """The arguments of ``ikou link`` (exit 2, one line each): (domain, from, to)."""
    known_domain(domain_id, "--domain")
    d = registry().get(domain_id)
    if not d.linkage.enabled:
        raise BadArgument(
            f"--domain {domain_id}: no linkage in its registry entry (linkage.enabled); domains "
            f"with one: {', '.join(x.id for x in registry() if x.linkage.enabled)}"
        )
    start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    if start > end:
        raise BadArgument(f"--from {start} is after --to {end}: the period runs forward")
    if not out:
        raise BadArgument("--out: give a folder or an s3:// prefix")
    if not is_s3(out):
        writable_folder(Path(out))
    return d, start, end


def writable_folder(folder: Path) -> None:
    """``--out`` can take files: a folder (made if missing) a file can be created in. A folder
    made for the probe is removed again: a refused run leaves nothing behind."""
    made = []
    try:
        for p in [*reversed(folder.parents), folder]:
            if not p.exists():
                p.mkdir()
                made.append(p)
        if not folder.is_dir():
            raise NotADirectoryError
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ikou-link-probe-"):
            pass
    except OSError:
        raise BadArgument(f"--out {folder}: not a writable folder") from None
    finally:
        for p in reversed(made):
            p.rmdir()


def require_live(domain_id: str, control: Control) -> None:
    if domain_id not in control.live():
        raise NotLive(
            f"{domain_id}: not live on the standard system (cutover state); the mainframe still "
            "holds it, so there is nothing to link back"
        )


def file_name(dataset: str, date_to: dt.date) -> str:
    return f"{dataset}.{date_to.strftime('%Y%m%d')}.dat"


def encode_changes(
    domain_id: str,
    changes: dict,
    date_from: dt.date,
    date_to: dt.date,
    gaiji: GaijiTable | None = None,
    secret: bytes | None = None,
) -> tuple[bytes, dict, list[dict]]:
    """The linkage file's bytes for ``changes`` (rows in the delta layout by table): (bytes,
    counts, worklist rows)."""
    d = registry().get(domain_id)
    link = d.linkage
    cb = parse_copybook(link.copybook_path.read_text(encoding="utf-8"), source=link.copybook)
    text = LegacyText(link.encoding, gaiji_codes(gaiji, link.encoding))
    cp = text.cp
    header = {
        "REC-TYPE": "H",
        "HDR-FILE-ID": link.dataset.split(".")[0][:8],
        "HDR-FROM": int(date_from.strftime("%Y%m%d")),
        "HDR-TO": int(date_to.strftime("%Y%m%d")),
        "HDR-SYSTEM": SYSTEM,
    }
    records = [encode_record(cb.record(link.header), header, cp, record_length=link.lrecl)]
    ops = dict.fromkeys(OPS, 0)
    tables: dict[str, dict] = {}
    held: list[dict] = []
    for t in d.layout.tables:
        rt = link.tables[t.name]
        layout = cb.record(link.record_types[rt]).with_kinds(d.legacy_file(t.source).mixed_fields)
        mapping = ReverseMapping(d, t, layout, text)
        counts = {**dict.fromkeys(OPS, 0), "held": 0}
        purpose = f"link:{domain_id}:{t.name}"
        for row in changes[t.name].to_pylist():
            op = row.pop("_op")
            try:
                values = mapping.values(row)
                values.update({link.record_type_field: rt, link.op_field: op})
                raw = encode_record(layout, values, cp, record_length=link.lrecl)
            except NoLegacyValue as exc:
                field, reason = exc.field, exc.reason
            except ValueError as exc:  # a number that does not fit: the message names the field
                if not str(exc).startswith("field "):
                    raise  # a layout that lacks a field is the registry's error, not the row's
                field, reason = str(exc).split(":")[0].removeprefix("field "), "does_not_fit"
            else:
                records.append(raw)
                counts[op] += 1
                ops[op] += 1
                continue
            key = "\x1f".join(str(row[k]) for k in t.business_keys)
            held.append(
                {
                    "table": t.name,
                    "op": op,
                    "key_hash": keyed_hash(key, purpose, secret),
                    "field": field,
                    "reason": reason,
                }
            )
            counts["held"] += 1
        tables[t.name] = counts
    written = sum(ops.values())
    trailer = {
        "REC-TYPE": "T",
        "TRL-COUNT": written,
        "TRL-INSERTS": ops["I"],
        "TRL-UPDATES": ops["U"],
        "TRL-DELETES": ops["D"],
    }
    records.append(encode_record(cb.record(link.trailer), trailer, cp, record_length=link.lrecl))
    counts = {"records": written, "ops": ops, "held": len(held), "tables": tables}
    return frame_records(records, "FB", lrecl=link.lrecl), counts, held


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(out: str, files: dict[str, bytes], manifest: dict, store: Store | None = None) -> str:
    """``files`` then ``_manifest.json`` (last) into ``out``; an earlier manifest is removed
    first. Returns the manifest's location."""
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    if is_s3(out):
        store = store or Store()
        with tempfile.TemporaryDirectory(prefix="ikou-link-") as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            if store.exists(join(out, MANIFEST)):
                store.delete_prefix(join(out, MANIFEST))
            for name in files:
                store.put_file(join(out, name), Path(tmp) / name)
        store.put_bytes(join(out, MANIFEST), body, "application/json")
        return join(out, MANIFEST)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    for name, data in files.items():
        _replace(folder / name, data)
    _replace(folder / MANIFEST, body)
    return str(folder / MANIFEST)


def write_linkage(
    domain_id: str,
    changes: dict,
    date_from: dt.date,
    date_to: dt.date,
    out: str,
    *,
    source: dict,
    gaiji: GaijiTable | None = None,
    secret: bytes | None = None,
    store: Store | None = None,
) -> dict:
    """Encode ``changes`` and publish the linkage set into ``out``; returns the manifest (counts,
    sha256, no values)."""
    d = registry().get(domain_id)
    link = d.linkage
    data, counts, held = encode_changes(domain_id, changes, date_from, date_to, gaiji, secret)
    name = file_name(link.dataset, date_to)
    worklist_name = name.removesuffix(".dat") + ".worklist.json"
    worklist = json.dumps(held, ensure_ascii=False, indent=1).encode("utf-8")
    manifest = {
        "format": FORMAT,
        "domain": domain_id,
        "name_ja": d.name_ja,
        "dataset": link.dataset,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "file": name,
        "code_page": link.encoding,
        "recfm": "FB",
        "lrecl": link.lrecl,
        "copybook": link.copybook,
        "copybook_sha256": sha256_file(link.copybook_path),
        "record_types": {"H": link.header, "T": link.trailer, **link.record_types},
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "records": {"header": 1, "data": counts["records"], "trailer": 1},
        "ops": counts["ops"],
        "held": counts["held"],
        "tables": counts["tables"],
        "worklist": {"file": worklist_name, "sha256": hashlib.sha256(worklist).hexdigest()},
        "source": source,
        "code_version": code_version(),
    }
    manifest["manifest_uri"] = publish(out, {name: data, worklist_name: worklist}, manifest, store)
    return manifest


__all__ = [
    "FORMAT",
    "NotLive",
    "check_arguments",
    "encode_changes",
    "file_name",
    "parse_date",
    "publish",
    "require_live",
    "write_linkage",
]
