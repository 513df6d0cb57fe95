"""Field findings: one row per problem that did not cost its record (restricted: raw bytes).

A finding names where (``_file``, ``_record``, ``_offset`` of the record, ``field``, ``byte``
inside the record), why (``reason``, ``detail``: codes and positions only) and the field's raw
bytes (``raw_hex``). Reasons include ``bad_field`` reasons nulled under ``--bad-field null``
(invalid_zoned, bad_nibble, undefined_sbcs ...), ``odo_count_zero`` (OCCURS n DEPENDING ON
without ``m TO`` and a count of 0) and ``short_record`` (fields beyond a record's end are null).

Raw bytes are personal data: the file goes where quarantine goes -- ``OUT.findings.jsonl`` on
the command line, the ``quarantine/`` zone in the DAG -- and reports carry counts only
(``DecodeSummary.findings`` by reason).

    rows = [finding_row(file, record_no, offset, "AMOUNT", "invalid_zoned", 12, raw, "byte 12: 0x4B")]
    with FindingsSink(path) as sink:        # temp file, renamed on commit (abort removes it)
        sink.write_rows(rows)               # or sink.write(table) with FINDINGS_SCHEMA
        sink.commit()

The module and these names are stable: other decoders (record framing) reuse them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

__all__ = ["FINDINGS_SCHEMA", "FindingsSink", "finding_row", "findings_path"]

FINDINGS_SCHEMA = pa.schema(
    [
        ("_file", pa.string()),
        ("_record", pa.int64()),
        ("_offset", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("byte", pa.int64()),
        ("detail", pa.string()),
        ("raw_hex", pa.string()),
    ]
)


def finding_row(
    file: str,
    record: int,
    offset: int,
    field: str | None,
    reason: str,
    byte: int | None = None,
    raw: bytes = b"",
    detail: str = "",
) -> dict:
    """One finding as a dict of :data:`FINDINGS_SCHEMA` (``raw``: the field's bytes)."""
    return {
        "_file": file,
        "_record": int(record),
        "_offset": int(offset),
        "field": field,
        "reason": reason,
        "byte": None if byte is None else int(byte),
        "detail": detail,
        "raw_hex": raw.hex().upper(),
    }


def findings_path(output) -> Path:
    """The findings file beside an output: ``OUT.findings.jsonl``."""
    return Path(str(output) + ".findings.jsonl")


class FindingsSink:
    """Findings as JSONL, written to a temporary name and renamed by :meth:`commit`."""

    def __init__(self, path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n")
        self.count = 0
        self._done = False

    def write_rows(self, rows) -> None:
        for row in rows:
            self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.count += 1

    def write(self, table: pa.Table) -> None:
        self.write_rows(table.to_pylist())

    def commit(self) -> None:
        if self._done:
            return
        self.finish()
        self.publish()

    def finish(self) -> None:
        """Everything is written: close the temporary file (:meth:`publish` renames it)."""
        if not self.fh.closed:
            self.fh.close()

    def publish(self) -> None:
        self._done = True
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self.fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> FindingsSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.commit()
