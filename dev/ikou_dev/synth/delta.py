"""The next extract of the synthetic city (``ikou synth --changes-from BASE --snapshot NEW``).

    ikou synth --changes-from 2026-11-01 --snapshot 2026-12-01 --out DIR [--change-rate 0.015] [--months 1]

1. rebuilds the city of BASE from BASE's snapshot manifest (``residents``, ``seed``, ``rates``
   and, when BASE is itself a later snapshot, its ``changes`` chain: each step is replayed);
2. changes its people (:func:`ikou_dev.synth.changes.apply_changes`: residents × rate × months
   changed residents);
3. writes NEW with the same generator as every snapshot (:func:`ikou_dev.synth.generate.write_all`:
   same registry files, encodings, header / trailer control totals, answer keys), so every domain
   follows the people by construction;
4. compares every file of NEW with the same file of BASE, built again in memory, by business key
   (the bytes of each field, exactly; one pass over each file) and writes
   ``_answer_key/NEW/changes.parquet``: domain, file, key (the business key as the record holds
   it), change (insert / update / delete), columns (the changed columns of an update), kind
   (:data:`ikou_dev.synth.changes.KINDS`).

Linear in the city's size apart from sorting the keys. NEW's manifests record ``changes_from``,
``change_rate``, ``months`` and the whole ``changes`` chain.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import numpy as np

from ikou.errors import BadArgument, Unreadable
from ikou.storage import Store, is_s3, join, local_path
from ikou_dev.synth.builder import DUPLICATE_UID, Built
from ikou_dev.synth.changes import CORRECTABLE, KIND, KINDS, Changed, apply_changes
from ikou_dev.synth.generate import CHUNK_ROWS, build_file, encode_rows
from ikou_dev.synth.selection import base_duplicates


class Records:
    """A file's data records as the writer encoded them (its chunks kept; rows gathered by index)."""

    def __init__(self):
        self.chunks: list[np.ndarray] = []
        self.starts: list[int] = []
        self.rows = 0

    def add(self, records: np.ndarray) -> None:
        self.starts.append(self.rows)
        self.chunks.append(records)
        self.rows += len(records)

    def gather(self, idx: np.ndarray, width: int) -> np.ndarray:
        out = np.empty((len(idx), width), dtype=np.uint8)
        if not len(idx):
            return out
        starts = np.asarray(self.starts)
        which = np.searchsorted(starts, idx, side="right") - 1
        for c in np.unique(which).tolist():
            sel = which == c
            out[sel] = self.chunks[c][idx[sel] - starts[c]]
        return out


def _key(b: Built) -> tuple[np.ndarray, str]:
    keys_ = b.lf.business_keys
    if len(keys_) != 1 or keys_[0] not in b.ints:
        raise ValueError(f"{b.lf.name}: the change answer key needs one numeric business key")
    f = b.layout.field(keys_[0])
    width = b.texts.get(keys_[0]) or f.digits or f.size
    return np.asarray(b.ints[keys_[0]], dtype=np.int64), f"0{width}d"


def _firsts(keys_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the row of each one's first occurrence."""
    return np.unique(keys_, return_index=True)


class Differ:
    """Collects the answer-key rows: one file at a time, NEW's records seen as they are written."""

    def __init__(self, base_pop, base_dups, seed: int, rates: dict, changed: Changed):
        self.base_pop, self.base_dups, self.seed, self.rates = base_pop, base_dups, seed, rates
        self.why = changed.why
        self.new_dup_uids = np.sort(changed.dups.person[changed.new_dup] + DUPLICATE_UID)
        self.open: dict[tuple[str, str], Records] = {}
        self.done: set[tuple[str, str]] = set()
        self.cols: dict[str, list] = {
            k: [] for k in ("domain", "file", "key", "change", "columns", "kind")
        }

    def observe(self, domain, lf, built: Built, records: np.ndarray) -> None:
        seen = self.open.get((domain.id, lf.name))
        if seen is None:
            seen = self.open[(domain.id, lf.name)] = Records()
        seen.add(records)
        if seen.rows == built.rows:
            del self.open[(domain.id, lf.name)]
            self._diff(domain, lf, built, seen)

    def finish(self, registry, domains) -> None:
        """Files NEW wrote without a record (every base record deleted)."""
        for domain in registry:
            if domains and domain.id not in domains:
                continue
            for lf in domain.legacy_files:
                if (domain.id, lf.name) not in self.done:
                    self._diff(domain, lf, None, None)

    def _kind(self, uids: np.ndarray) -> list[str]:
        dup = uids >= DUPLICATE_UID
        person = np.where(dup, uids - DUPLICATE_UID, uids)
        why = np.where(person < len(self.why), self.why[np.minimum(person, len(self.why) - 1)], 0)
        fresh = dup & np.isin(uids, self.new_dup_uids)
        why = np.where(fresh, KIND["duplicate"], why)
        return [KINDS[w] for w in why.tolist()]

    def _diff(self, domain, lf, new: Built | None, new_records: Records | None) -> None:
        """BASE's file built again and compared with NEW's records by business key, field by
        field (exact bytes; one pass over BASE's records, chunk by chunk)."""
        self.done.add((domain.id, lf.name))
        base = build_file(self.base_pop, self.seed, self.rates, domain, lf, self.base_dups)
        kb, fmt = _key(base)
        if new is None or new_records is None:
            kn, un, new_records = np.zeros(0, np.int64), np.zeros(0, np.int64), Records()
        else:
            kn, _ = _key(new)
            un = new.uids
        ub = base.uids
        kb_u, ib = _firsts(kb)
        kn_u, in_ = _firsts(kn)
        _, ia, ic = np.intersect1d(kb_u, kn_u, assume_unique=True, return_indices=True)
        rb, rn = ib[ia], in_[ic]
        fields = base.layout.data_fields
        columns = [f.column for f in fields]
        diff = np.zeros((len(rb), len(fields)), dtype=bool)
        by_row = np.argsort(rb, kind="stable")
        at = rb[by_row]
        width = len(base.template)
        for start in range(0, base.rows, CHUNK_ROWS):
            stop = min(base.rows, start + CHUNK_ROWS)
            lo, hi = np.searchsorted(at, [start, stop])
            if hi == lo:
                continue
            sel = by_row[lo:hi]
            old = encode_rows(base, start, stop)[rb[sel] - start]
            neq = old != new_records.gather(rn[sel], width)
            for j, f in enumerate(fields):
                diff[sel, j] = neq[:, f.offset : f.offset + f.size].any(axis=1)
        upd = np.flatnonzero(diff.any(axis=1))
        deleted = ib[~np.isin(kb_u, kn_u, assume_unique=True)]
        inserted = in_[~np.isin(kn_u, kb_u, assume_unique=True)]
        out = self.cols
        for change, keys_, rows_uid, cols in (
            ("delete", kb[deleted], ub[deleted], [[]] * len(deleted)),
            ("insert", kn[inserted], un[inserted], [[]] * len(inserted)),
            (
                "update",
                kn[rn[upd]],
                un[rn[upd]],
                [[columns[j] for j in np.flatnonzero(row)] for row in diff[upd]],
            ),
        ):
            order = np.argsort(keys_, kind="stable")
            k = len(order)
            out["domain"] += [domain.id] * k
            out["file"] += [lf.name] * k
            out["key"] += [format(int(x), fmt) for x in keys_[order].tolist()]
            out["change"] += [change] * k
            out["columns"] += [cols[i] for i in order.tolist()]
            out["kind"] += self._kind(np.asarray(rows_uid)[order])

    def table(self):
        import pyarrow as pa

        c = self.cols
        return pa.table(
            {
                "domain": pa.array(c["domain"], pa.string()),
                "file": pa.array(c["file"], pa.string()),
                "key": pa.array(c["key"], pa.string()),
                "change": pa.array(c["change"], pa.string()),
                "columns": pa.array(c["columns"], pa.list_(pa.string())),
                "kind": pa.array(c["kind"], pa.string()),
            }
        )


# -- the base city, rebuilt from its manifest -------------------------------------------------------


def _read_json(store: Store, uri: str, what: str) -> dict:
    try:
        return json.loads(store.get_bytes(uri))
    except (FileNotFoundError, OSError):
        raise Unreadable(f"{what}: no {uri} (write that snapshot first)") from None
    except ValueError:
        raise Unreadable(f"{what}: {uri} is not JSON") from None
    except Exception as exc:  # the object store (botocore errors are no OSError)
        raise Unreadable(f"{what}: cannot read {uri} ({type(exc).__name__})") from None


def _defect_atena(store: Store, out: str, snapshot: str) -> np.ndarray:
    """宛名番号 with a correctable seeded defect in a snapshot's answer key."""
    import pyarrow.parquet as pq

    uri = join(out, f"_answer_key/{snapshot}/defects.parquet")
    try:
        table = pq.read_table(io.BytesIO(store.get_bytes(uri)), columns=["atena_no", "defect"])
    except (FileNotFoundError, OSError):
        raise Unreadable(f"--changes-from {snapshot}: no {uri} (its answer key)") from None
    except Exception as exc:  # the object store, or not Parquet
        raise Unreadable(
            f"--changes-from {snapshot}: cannot read {uri} ({type(exc).__name__})"
        ) from None
    rows = table.to_pydict()
    return np.array(
        sorted(
            {
                int(a)
                for a, d in zip(rows["atena_no"], rows["defect"])
                if d in CORRECTABLE and a and a.isdigit()
            }
        ),
        dtype=np.int64,
    )


def rebuild(store: Store, out: str, manifest: dict):
    """The people and duplicates of the snapshot a manifest describes (its chain replayed)."""
    from ikou_dev.synth.population import build

    residents, seed, rates = manifest["residents"], manifest["seed"], manifest["rates"]
    chain = manifest.get("changes") or []
    first = chain[0]["from"] if chain else manifest["snapshot"]
    pop = build(residents, seed, dt.date.fromisoformat(first))
    dups = base_duplicates(pop, seed, rates)
    for step in chain:
        changed = apply_changes(
            pop,
            dups,
            seed,
            dt.date.fromisoformat(step["to"]),
            float(step["change_rate"]),
            int(step["months"]),
            _defect_atena(store, out, step["from"]),
        )
        pop, dups = changed.pop, changed.dups
    return pop, dups


def synthesize_changes(
    base: object,
    snapshot: object,
    out: str,
    change_rate: float = 0.015,
    months: int = 1,
    residents: int | None = None,
    seed: int | None = None,
    registry=None,
    store: Store | None = None,
    domains: list[str] | None = None,
) -> dict:
    """Write NEW = BASE's city after ``months`` of changes, and the change answer key."""
    import pyarrow.parquet as pq

    from ikou.domains import registry as default_registry
    from ikou.pipeline import parse_snapshot
    from ikou.storage import code_version
    from ikou_dev.synth import validate
    from ikou_dev.synth.generate import SYNTH_VERSION, write_all

    reg = registry or default_registry()
    base_text = parse_snapshot(base, "--changes-from")
    if isinstance(change_rate, bool) or not isinstance(change_rate, (int, float)):
        raise BadArgument(f"--change-rate {change_rate!r}: expected a number from 0 to 1")
    if not 0.0 <= float(change_rate) <= 1.0:
        raise BadArgument(f"--change-rate {change_rate}: a rate per month is from 0 to 1")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise BadArgument(f"--months {months!r}: expected a whole number from 1 to 120")
    store = store or Store()
    first_domain = next((d.id for d in reg if not domains or d.id in domains), None)
    if first_domain is None:
        raise BadArgument("--domains: no domain selected")
    manifest = _read_json(
        store, join(out, f"{first_domain}/{base_text}/_manifest.json"), f"--changes-from {base}"
    )
    held_res, held_seed = manifest.get("residents"), manifest.get("seed")
    if not isinstance(held_res, int) or not isinstance(held_seed, int) or "rates" not in manifest:
        raise BadArgument(
            f"--changes-from {base_text}: its manifest does not record the city (written before "
            "synth recorded residents, seed and rates); write it again"
        )
    if manifest.get("synth_version") != SYNTH_VERSION:
        raise BadArgument(
            f"--changes-from {base_text}: written by synth version "
            f"{manifest.get('synth_version')}, this synth writes version {SYNTH_VERSION}; "
            "write the base again"
        )
    if residents is not None and residents != held_res:
        raise BadArgument(
            f"--residents {residents}: snapshot {base_text} holds a city of {held_res:,} residents"
        )
    if seed is not None and seed != held_seed:
        raise BadArgument(f"--seed {seed}: snapshot {base_text} holds the city of seed {held_seed}")
    rates = dict(manifest["rates"])
    _, snap_text, _ = validate(held_res, snapshot, out, rates, domains, reg)
    if snap_text <= base_text:
        raise BadArgument(f"--snapshot {snap_text}: must be later than --changes-from {base_text}")
    started = time.monotonic()
    base_pop, base_dups = rebuild(store, out, manifest)
    changed = apply_changes(
        base_pop,
        base_dups,
        held_seed,
        dt.date.fromisoformat(snap_text),
        float(change_rate),
        months,
        _defect_atena(store, out, base_text),
    )
    step = {"from": base_text, "to": snap_text, "change_rate": float(change_rate), "months": months}
    city = {
        "residents": held_res,
        "seed": held_seed,
        "rates": rates,
        "synth_version": SYNTH_VERSION,
        "code_version": code_version(),
        "changes_from": base_text,
        "change_rate": float(change_rate),
        "months": months,
        "changes": list(manifest.get("changes") or []) + [step],
        "residents_on_snapshot": changed.pop.n_residents,
    }
    if not is_s3(out):
        local_path(out).mkdir(parents=True, exist_ok=True)
    differ = Differ(base_pop, base_dups, held_seed, rates, changed)
    written = {"files": 0, "bytes": 0}

    def emit(rel: str, data: bytes) -> None:
        store.put_bytes(join(out, rel), data)
        written["files"] += 1
        written["bytes"] += len(data)

    def emit_file(rel: str, path) -> None:
        from pathlib import Path

        store.put_file(join(out, rel), path)
        written["files"] += 1
        written["bytes"] += Path(path).stat().st_size

    summary = write_all(
        reg,
        changed.pop,
        held_seed,
        rates,
        emit,
        domains=domains,
        emit_file=emit_file,
        city=city,
        dups=changed.dups,
        observe=differ.observe,
    )
    differ.finish(reg, domains)
    table = differ.table()
    buf = io.BytesIO()
    pq.write_table(table, buf)
    emit(f"_answer_key/{snap_text}/changes.parquet", buf.getvalue())
    changes = table.group_by("change").aggregate([("key", "count")]).to_pydict()
    summary.update(
        out=out,
        files=written["files"],
        bytes=written["bytes"],
        seconds=round(time.monotonic() - started, 2),
        synth_version=SYNTH_VERSION,
        changes_from=base_text,
        change_rate=float(change_rate),
        months=months,
        changed_people=changed.counts,
        changed_records=dict(zip(changes["change"], changes["key_count"])),
    )
    return summary
