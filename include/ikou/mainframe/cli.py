"""``ikou decode``: a legacy file + copybook -> Parquet / JSONL / CSV + quarantine.

    ikou decode --copybook JUKI.cpy --encoding cp930 --recfm FB JUKI.DAT -o juki.parquet
    ikou decode --domain juki --file ATENA ATENA.DAT -o atena.parquet --summary-json s.json
    ikou decode --domain juki --file ATENA ATENA.DAT --hex --limit 3     (terminal only)

The options are the command line's, or with ``--domain D --file F`` the registry entry's (the
extract stage's mapping, :mod:`ikou.mainframe.registry_options`; :mod:`ikou.mainframe.
decode_arguments` says which options go together). ``--summary-json`` also records what
reproduces the decode (:mod:`ikou.mainframe.provenance`); ``--hex`` prints the first records
field by field (:mod:`ikou.mainframe.hexview`) and writes nothing.

Wiring (in ``ikou.cli``)::

    from ikou.mainframe.cli import add_decode_parser
    add_decode_parser(subparsers)          # sets func=run_decode on the sub-parser
    ...
    return args.func(args)

Exit codes: 0 the file was read to the end (quarantined records are normal and counted);
2 bad arguments; 3 broken copybook; 4 unreadable input / 外字 table / output; 5 the file does
not fit the record format (RECFM / LRECL / layouts). Messages name files and positions, never
record contents.

This module imports neither Airflow, Great Expectations nor pandas, and neither does a run: the
engine builds Arrow arrays from numpy buffers (``pyarrow.array()`` would import pandas on its
first call when pandas is installed, a second or two of start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

from ikou.mainframe.decode_arguments import DEFAULTS, add_arguments, mode_problem
from ikou.mainframe.options import structure_kwargs

__all__ = [
    "add_decode_parser",
    "run_decode",
    "main",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_COPYBOOK",
    "EXIT_INPUT",
    "EXIT_FORMAT",
]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_COPYBOOK = 3
EXIT_INPUT = 4
EXIT_FORMAT = 5
EXIT_CONTROL = 6


def add_decode_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``decode`` sub-command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "decode",
        help="decode a legacy mainframe file with its copybook",
        description="Decode a legacy mainframe file (RECFM F/FB/V/VB) with its COBOL copybook to "
        "Parquet, JSONL or CSV; bad records go to a quarantine JSONL. With --domain D --file F "
        "the registry's options for that file (as the extract stage); --summary-json records "
        "the effective options, the copybook's and the input's sha256 and the code version; "
        "--hex shows the first records field by field with their raw bytes (terminal only).",
    )
    add_arguments(p)
    p.set_defaults(func=run_decode)
    return p


def bad_field_options(items) -> tuple[str, dict[str, str]]:
    """``--bad-field`` values -> (file policy, {field: policy}); BadArgument when malformed."""
    from ikou.errors import BadArgument

    policy, per_field = "quarantine", {}
    for it in items:
        name, eq, pol = it.partition("=")
        if not eq:
            if it not in ("quarantine", "null"):
                raise BadArgument(f"--bad-field {it}: use quarantine, null or NAME=null")
            policy = it
            continue
        if not name.strip() or pol not in ("quarantine", "null"):
            raise BadArgument(f"--bad-field {it}: use NAME=null or NAME=quarantine")
        per_field[name.strip()] = pol
    return policy, per_field


def _fail(msg: str, code: int) -> int:
    print(f"ikou decode: error: {msg}", file=sys.stderr)
    return code


def _pairs(items, what: str) -> list[tuple[str, str]]:
    out = []
    for it in items:
        if "=" not in it:
            raise ValueError(f"{what} {it!r}: expected A=B")
        a, b = it.split("=", 1)
        if not a or not b:
            raise ValueError(f"{what} {it!r}: expected A=B")
        out.append((a, b.strip()))
    return out


def run_decode(args: argparse.Namespace) -> int:
    """Run ``ikou decode`` with parsed arguments; returns the exit code."""
    return _run(args)


def _run(args) -> int:
    from ikou.mainframe.copybook import CopybookError, parse_copybook

    problem = mode_problem(args)
    if problem:
        return _fail(problem, EXIT_USAGE)
    lf = None
    if args.domain:
        from ikou.mainframe.registry_options import copybook_options, find_legacy_file

        try:
            lf = find_legacy_file(args.domain, args.file)
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
        copybook_path = lf.copybook_path
        cb_opts = copybook_options(lf)
    else:
        for dest, value in DEFAULTS.items():
            if getattr(args, dest, None) is None:
                setattr(args, dest, value)
        copybook_path = Path(args.copybook)
        cb_opts = {
            "format": getattr(args, "copybook_format", None) or "auto",
            "copybook_dirs": tuple(getattr(args, "copybook_dir", ()) or ()),
            "nsymbol": getattr(args, "nsymbol", None) or "dbcs",
            "decimal_comma": getattr(args, "decimal_comma", False),
            "keep_filler": getattr(args, "keep_filler", False),
        }

    # --- copybook
    try:
        text = copybook_path.read_text(encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot read copybook {copybook_path}: {exc.strerror or exc}", EXIT_INPUT)
    except UnicodeDecodeError:
        return _fail(f"copybook {copybook_path} is not UTF-8 text", EXIT_COPYBOOK)
    try:
        cb = parse_copybook(text, source=str(copybook_path), **cb_opts)
    except CopybookError as exc:
        return _fail(f"broken copybook: {exc}", EXIT_COPYBOOK)
    for w in cb.warnings:
        print(f"ikou decode: copybook warning: {w}", file=sys.stderr)

    out = Path(args.output) if args.output else None
    suffix = out.suffix.lower() if out else ""
    if out is not None and suffix not in (".parquet", ".jsonl", ".csv"):
        return _fail(f"output {out}: use .parquet, .jsonl or .csv", EXIT_USAGE)
    inp = Path(args.input)
    if not inp.is_file():
        return _fail(f"cannot read input {inp}: no such file", EXIT_INPUT)

    if lf is None and not 0 < args.chunk_mb <= 1024:
        return _fail(f"--chunk-mb {args.chunk_mb}: allowed more than 0, at most 1024", EXIT_USAGE)
    if lf is None and args.lrecl is not None and not 1 <= args.lrecl <= 32760:
        return _fail(f"--lrecl {args.lrecl}: allowed 1 to 32760", EXIT_USAGE)

    # --- options
    from ikou.mainframe.engine import Decoding
    from ikou.mainframe.reader import RecordFormatError

    try:
        gaiji = None
        if args.gaiji:
            from ikou.moji.gaiji import GaijiTable, GaijiTableError

            try:
                gaiji = GaijiTable.load(Path(args.gaiji))
            except GaijiTableError as exc:
                return _fail(f"外字 table: {exc}", EXIT_INPUT)
        if lf is not None:
            from dataclasses import replace

            from ikou.mainframe.registry_options import registry_decode_options

            opts = registry_decode_options(lf, str(inp), None, gaiji_policy=args.gaiji_policy)
            opts = replace(opts, gaiji=gaiji)
        else:
            opts = command_line_options(args, str(inp), gaiji)
        run = Decoding(str(inp), cb, opts)
    except RecordFormatError as exc:
        return _fail(f"record format does not fit: {exc}", EXIT_FORMAT)
    except (ValueError, KeyError) as exc:
        return _fail(str(exc).strip("'\""), EXIT_USAGE)

    if args.hex:
        from ikou.mainframe.hexview import DEFAULT_LIMIT, show_records

        try:
            show_records(run, args.limit or DEFAULT_LIMIT, sys.stdout)
        except RecordFormatError as exc:
            return _fail(f"record format does not fit: {exc}", EXIT_FORMAT)
        except OSError as exc:
            return _fail(f"cannot read input {inp}: {exc.strerror or exc}", EXIT_INPUT)
        return EXIT_OK
    assert out is not None  # mode_problem: -o unless --hex
    provenance = {
        "copybook_path": copybook_path,
        "copybook_options": cb_opts,
        "copybook_members": cb.members,
        "gaiji_path": args.gaiji,
        "registry": {"domain": args.domain, "file": lf.name, "dataset": lf.dataset}
        if lf is not None
        else None,
    }
    return _decode(args, run, inp, out, suffix, provenance)


def command_line_options(args, file_name: str, gaiji):
    """The engine's options from the command line (no --domain/--file); ValueError when bad."""
    from ikou.mainframe.engine_options import DecodeOptions

    rtypes: dict[str, str] = {}
    headers = [h.upper() for h in args.header_layout]
    trailers = [t.upper() for t in args.trailer_layout]
    for value, spec in _pairs(args.record_type, "--record-type"):
        layout, _, role = spec.partition(":")
        role = (role or "data").lower()
        if role not in ("data", "header", "trailer"):
            raise ValueError(f"--record-type {value}={spec}: role must be data, header or trailer")
        rtypes[value] = layout
        if role == "header":
            headers.append(layout.upper())
        elif role == "trailer":
            trailers.append(layout.upper())
    totals = dict(_pairs(args.control_total, "--control-total"))
    bad_policy, bad_fields = bad_field_options(getattr(args, "bad_field", ()) or ())
    if getattr(args, "trim", None) not in (None, "none") and args.keep_padding:
        raise ValueError(f"--keep-padding is --trim none: it contradicts --trim {args.trim}")
    return DecodeOptions(
        encoding=args.encoding,
        variant=args.variant,
        recfm=args.recfm,
        lrecl=args.lrecl,
        layout=args.layout,
        record_type_field=args.record_type_field,
        record_types=rtypes,
        header_layouts=tuple(headers),
        trailer_layouts=tuple(trailers),
        record_count_field=args.record_count_field,
        control_totals=totals,
        mixed_fields=tuple(args.mixed_field),
        money_fields=tuple(args.money_field),
        keep_padding=args.keep_padding,
        gaiji=gaiji,
        gaiji_policy=args.gaiji_policy,
        blank_numeric=args.blank_numeric,
        sbcs_fields=tuple(getattr(args, "sbcs_field", ()) or ()),
        trim=getattr(args, "trim", None),
        float_format=getattr(args, "float_format", None) or "ibm",
        bad_field=bad_policy,
        bad_fields=bad_fields,
        chunk_bytes=max(1 << 16, int(args.chunk_mb * (1 << 20))),
        file_name=file_name,
        **structure_kwargs(args),
    )


def _decode(args, run, inp: Path, out: Path, suffix: str, provenance: dict) -> int:
    """Decode the whole file into the outputs (published only when every one is complete)."""
    from ikou.mainframe.findings import FindingsSink, findings_path
    from ikou.mainframe.output import CsvSink, JsonlSink, ParquetSink, QuarantineSink, layout_paths
    from ikou.mainframe.reader import RecordFormatError

    qpath = Path(args.quarantine) if args.quarantine else Path(str(out) + ".quarantine.jsonl")
    paths = layout_paths(out, run.data_layouts)
    extra = [Path(x) for x in (args.summary_json, args.gaiji_out) if x]
    for target in [*paths.values(), qpath, findings_path(out), *extra]:
        if _same_file(inp, target):
            return _fail(f"output {target} is the input file {inp}: nothing written", EXIT_USAGE)
    sinks: dict = {}
    qs = fs = None
    dominant: Counter = Counter()
    gtmp = stmp = None
    try:
        for name in run.data_layouts:
            if suffix == ".parquet":
                sinks[name] = ParquetSink(paths[name], run.schema(name))
            elif suffix == ".jsonl":
                sinks[name] = JsonlSink(paths[name], run.plans[name].layout)
            else:
                sinks[name] = CsvSink(paths[name], run.schema(name))
        qs = QuarantineSink(qpath)
        fs = FindingsSink(findings_path(out))  # raw bytes: restricted, beside the quarantine
        for chunk in run:
            for name, rb in chunk.batches.items():
                sinks[name].write(rb)
            qs.write(chunk.quarantine)
            fs.write_rows(chunk.findings)
            _count_reasons(chunk.quarantine, dominant)
            _count_findings(chunk.findings, dominant)
        if args.gaiji_out:
            import pyarrow.parquet as pq

            gtmp = Path(args.gaiji_out + ".tmp")
            pq.write_table(run.gaiji_occurrences(), gtmp)
        if args.summary_json:
            from ikou.mainframe.provenance import decode_provenance

            summary = run.summary.to_dict()
            summary.update(decode_provenance(run.options, input_path=inp, **provenance))
            stmp = Path(args.summary_json + ".tmp")
            stmp.write_text(
                json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
        # every output is complete in its temporary file: only now do they get their names
        for s in [*sinks.values(), qs, fs]:
            s.finish()
        for s in [*sinks.values(), qs, fs]:
            s.publish()
        for tmp, final in ((gtmp, args.gaiji_out), (stmp, args.summary_json)):
            if tmp is not None:
                os.replace(tmp, final)
    except RecordFormatError as exc:
        _abort(sinks, qs, fs, gtmp, stmp)
        return _fail(f"record format does not fit: {exc}", EXIT_FORMAT)
    except OSError as exc:
        _abort(sinks, qs, fs, gtmp, stmp)
        return _fail(
            f"{exc.strerror or exc}"
            + (f": {exc.filename}" if getattr(exc, "filename", None) else ""),
            EXIT_INPUT,
        )
    s = run.summary
    print(f"{inp}: {s.line()}")
    line = _dominant_line(str(inp), dominant, s.records_in)
    if line:
        print(line, file=sys.stderr)
    for c in s.trailer_checks:
        if not c.ok:
            print(
                f"{inp}: trailer check {c.name} {c.trailer_field} {c.state}"
                f"{' <- ' + c.data_field if c.data_field else ''}: expected {c.expected}, "
                f"actual {c.actual}{' (' + c.detail + ')' if c.detail else ''}",
                file=sys.stderr,
            )
    if s.gaiji_unmapped:
        print(
            f"{inp}: {s.gaiji_unmapped} unmapped 外字 occurrence(s), codes {' '.join(s.gaiji_codes[:20])}"
            f"{' ...' if len(s.gaiji_codes) > 20 else ''}",
            file=sys.stderr,
        )
    if s.control_mismatch:  # outputs are written; the numbers do not add up (exit 6)
        return _fail(
            f"{inp}: control mismatch (trailer count, control total or a missing header / "
            "trailer): see the trailer check lines above",
            EXIT_CONTROL,
        )
    return EXIT_OK


def _abort(sinks: dict, qs, fs=None, *tmps) -> None:
    for s in sinks.values():
        s.abort()
    if qs is not None:
        qs.abort()
    if fs is not None:
        fs.abort()
    for tmp in tmps:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _same_file(inp: Path, target: Path) -> bool:
    """True when writing ``target`` would overwrite the input (same path or same file)."""
    try:
        if target.resolve() == inp.resolve():
            return True
        return target.exists() and os.path.samefile(inp, target)
    except OSError:
        return False


_BYTE = re.compile(r"^byte (\d+)")


def _count_reasons(quarantine, counter: Counter) -> None:
    """(reason, byte in the record) of each quarantined record (the byte None for framing)."""
    if not quarantine.num_rows:
        return
    reasons = quarantine.column("reason").to_pylist()
    details = quarantine.column("detail").to_pylist()
    for r, d in zip(reasons, details):
        m = _BYTE.match(d or "")
        counter[(r, int(m.group(1)) if m else None)] += 1


def _count_findings(rows, counter: Counter) -> None:
    """(reason, byte) of the field findings (--bad-field null), once per record."""
    seen = set()
    for r in rows or ():
        key = (r["reason"], r.get("byte"))
        if (r["_record"], key) not in seen:
            seen.add((r["_record"], key))
            counter[key] += 1


def _dominant_line(inp: str, counter: Counter, records: int) -> str | None:
    """One stderr line when one (reason, byte) covers half of the file's records or more."""
    if not counter or records <= 0:
        return None
    (reason, byte), n = counter.most_common(1)[0]
    if 2 * n < records:
        return None
    at = f" at byte {byte}" if byte is not None else ""
    return f"{inp}: {n} of {records} records: {reason}{at} — wrong copybook or code page?"


def main(argv: list[str] | None = None) -> int:
    """``python -m ikou.mainframe.cli ARGS`` (same as ``ikou decode ARGS``)."""
    parser = argparse.ArgumentParser(prog="ikou decode")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_decode(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
