"""Mainframe extract engine: COBOL copybooks, record formats, vectorised field decoding.

Layers (each usable on its own)
-------------------------------
``ikou.mainframe.copybook``  stdlib only. ``parse_copybook(text, source) -> Copybook``;
                             ``Copybook.record(name) -> RecordLayout`` (flat elementary
                             ``Field`` s with absolute offsets, kinds, digits, scale, OCCURS ...).
``ikou.mainframe.encode``    ``encode_record(layout, values, codepage) -> bytes`` and
                             ``frame_records(records, recfm)`` for the synthetic city and tests.
``ikou.mainframe.reader``    record framing into chunks of records (``iter_record_chunks``):
                             ``framing_fixed`` (F / FB, ``byte_ranges`` to split them),
                             ``framing_variable`` (V / VB / VS / VBS, length fields),
                             ``framing_text`` (LF / CRLF), ``compression`` (gzip, bzip2),
                             ``records`` (the chunk type); ``structure`` and ``options`` hold
                             the record-structure options (offsets, segments, RDW variants).
``ikou.mainframe.decode``    vectorised decoders (zoned, packed, binary, IBM float, SBCS, DBCS,
                             mixed SO/SI) over all records of a chunk, 外字 handling.
``ikou.mainframe.kernel``    the compiled fast path of the text, zoned and packed decoders
                             (``_kernel.c``, built with ``cc`` on first use and cached; rows with
                             anything to report go to the numpy decoders, so results are the
                             same with or without it; ``IKOU_DECODE_KERNEL=auto|numpy|c``).
``ikou.mainframe.engine``    the API the extract stage calls (below): the decoding run; its
                             options in ``engine_options``, the layouts in use in
                             ``engine_plans``, the field decoders in ``engine_fields``, chunks
                             and summaries in ``engine_results``.
``ikou.mainframe.output``    Parquet / JSONL / CSV / quarantine writers.
``ikou.mainframe.registry_options``
                             a registry legacy file -> its parsed copybook and ``DecodeOptions``
                             (the one mapping: extract stage, ``ikou land``, ``ikou decode
                             --domain/--file``).
``ikou.mainframe.provenance``  what reproduces a decode (effective options, sha256, code version)
                             for summaries.
``ikou.mainframe.cli``       ``ikou decode`` (``add_decode_parser``, ``run_decode``); its options in
                             ``decode_arguments``, ``--hex`` in ``hexview``.

The API the extract stage calls
-------------------------------
::

    from ikou.mainframe import parse_copybook, DecodeOptions, decode_file, decode_to_parquet

    cb = parse_copybook(Path("juki.cpy").read_text(), source="juki.cpy")
    opts = DecodeOptions(
        encoding="cp930", recfm="FB",                      # cp930 cp939 cp1390 cp1399 jef keis jips
        record_type_field="REC-TYPE",
        record_types={"H": "JUKI-HDR", "D": "JUKI-DATA", "T": "JUKI-TRL"},
        header_layouts=("JUKI-HDR",), trailer_layouts=("JUKI-TRL",),
        record_count_field="TRL-COUNT", control_totals={"TRL-AMOUNT": "AMOUNT"},
        mixed_fields=("ADDRESS",), gaiji="gaiji.csv",      # gaiji_policy="placeholder" | "quarantine"
    )
    summary = decode_to_parquet("JUKI.DAT", cb, opts, "raw/juki.parquet",
                                "quarantine/juki.jsonl", gaiji_path="raw/juki.gaiji.parquet")
    assert summary.accounted          # records_in == out + header + trailer + quarantined
    summary.trailer_ok, summary.trailer_checks, summary.gaiji_unmapped, summary.to_dict()

    run = decode_file("JUKI.DAT", cb, opts)                # streaming: bounded memory
    for chunk in run:                                     # DecodedChunk
        chunk.batch                                       # pyarrow.RecordBatch (good data records)
        chunk.quarantine                                  # pyarrow.Table (QUARANTINE_SCHEMA)
        chunk.gaiji                                       # unmapped 外字 occurrences (GAIJI_SCHEMA)
    run.summary; run.gaiji_occurrences()

    # a large F/FB file in parallel parts (e.g. mapped Airflow tasks), then one summary:
    parts = byte_ranges(os.path.getsize(path), lrecl, 8)          # [(start, end), ...]
    s_i = decode_to_parquet(path, cb, replace(opts, byte_range=parts[i]), f"part-{i}.parquet", ...)
    summary = merge_summaries([s_0, s_1, ...])                    # trailer checks over the whole file
    # (a part's summary travels as JSON: DecodeSummary.from_dict(s_i.to_dict()))

The extract stage does exactly that for F/FB files above ``IKOU_EXTRACT_PART_BYTES`` (64 MB):
``extract_plan`` -> mapped ``extract_parts`` (one Airflow task instance per byte range, URIs and
counts in XCom) -> ``extract`` (merge, one Parquet file per legacy file, publish); see
``ikou.stages.extract``.

Output columns: the copybook's names (``ATENA-NO``); group names are dropped (a leaf name is
qualified with its nearest group names, ``BIRTH-DATE.YY``, only when it would collide); OCCURS
fields are list columns; FILLER is left out; lineage ``_file`` (string), ``_record`` (int64,
0-based record number in the file, header included) and ``_offset`` (int64 byte offset of the
record; for V/VB the offset of its RDW). Types: packed and money fields decimal128, zoned and
binary int64 when integral with at most 18 digits (decimal128 otherwise), COMP-1/2 float64, text
string with trailing SBCS 0x40 / DBCS 0x4040 trimmed unless ``keep_padding``.

Quarantine: one row per bad record, in file order, never dropped: ``_file, _record, _offset, layout, field,
reason, detail, raw_length, raw_hex``. ``detail`` holds byte positions (relative to the record's
first data byte) and codes only -- never decoded text. Reasons: invalid_zoned, blank_numeric,
bad_nibble, binary_overflow, undefined_sbcs, undecodable_dbcs, unbalanced_shift,
odd_dbcs_length, unmapped_gaiji (policy "quarantine"), odo_out_of_range, record_too_short, record_too_long (V/VB),
unknown_record_type, truncated_record, bad_rdw, bad_bdw. Fields inside a REDEFINES alternative
(not the one chosen as the layout) are lenient: a value they cannot decode becomes null.

外字: a DBCS code in the code page's user-defined area, or undefined in the code page but
within its byte ranges, goes through the city's table (``ikou.moji.gaiji.GaijiTable``); an
unmapped one becomes 〓 (U+3013) in the text and an occurrence (record, field, byte, code,
candidates) is reported, or -- with ``gaiji_policy="quarantine"`` -- quarantines the record.
A code outside the byte ranges (e.g. 0x0102) is ``undecodable_dbcs``.

Errors: ``CopybookError`` (ValueError; source:line:column), ``RecordFormatError`` (ValueError;
the file does not fit RECFM / LRECL / the layouts), ``ValueError`` for options that do not fit
the copybook, ``OSError`` for unreadable files.

Importing ``ikou.mainframe`` is cheap: the names below load their module on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "parse_copybook": "copybook",
    "Copybook": "copybook",
    "CopybookError": "copybook",
    "RecordLayout": "copybook",
    "Field": "copybook",
    "encode_record": "encode",
    "frame_records": "encode",
    "DecodeOptions": "engine_options",
    "DecodeSummary": "engine_results",
    "DecodedChunk": "engine_results",
    "TrailerCheck": "engine_results",
    "Decoding": "engine",
    "decode_file": "engine",
    "decode_to_parquet": "engine",
    "merge_summaries": "engine_results",
    "QUARANTINE_SCHEMA": "engine_results",
    "GAIJI_SCHEMA": "engine_results",
    "RecordFormatError": "reader",
    "iter_record_chunks": "reader",
    "byte_ranges": "reader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'ikou.mainframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ikou.mainframe.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
