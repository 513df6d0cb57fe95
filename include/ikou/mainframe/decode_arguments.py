"""The command-line options of ``ikou decode`` (:func:`add_arguments`) and which combinations
of them are allowed (:func:`mode_problem`): explicit options, or a domain's legacy file
(``--domain D --file F``: the registry's options, see :mod:`ikou.mainframe.registry_options`),
and the ``--hex`` inspection. :mod:`ikou.mainframe.cli` runs the command.
"""

from __future__ import annotations

import argparse

from ikou.mainframe.options import (
    CODEPAGE_CHOICES,
    GAIJI_POLICIES,
    RECFM_CHOICES,
    add_structure_arguments,
    given_structure_flags,
)

__all__ = [
    "DEFAULTS",
    "ENCODINGS",
    "REGISTRY_SET",
    "add_arguments",
    "encoding_name",
    "mode_problem",
]

ENCODINGS = CODEPAGE_CHOICES


def encoding_name(text: str) -> str:
    """--encoding: a code page name or alias (IBM037, CCSID1047, UTF8 ...) -> its name."""
    from ikou.moji.codepages import canonical_name

    try:
        return canonical_name(text)
    except ValueError:
        return text  # argparse's choices name what is allowed


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of ``ikou decode``."""
    p.add_argument("input", metavar="INPUT", help="the legacy file")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file: .parquet, .jsonl or .csv (several data layouts: OUT.<LAYOUT>.<ext>); "
        "required unless --hex",
    )
    _add_registry_arguments(p)
    p.add_argument(
        "--copybook",
        metavar="C.cpy",
        help="COBOL copybook (required unless --domain/--file)",
    )
    p.add_argument(
        "--copybook-format",
        choices=("auto", "fixed", "free"),
        default=None,
        help="copybook source format (default auto: fixed columns, code may start in column 7; "
        "free when levels start in columns 1-6)",
    )
    _add_copybook_arguments(p)
    p.add_argument(
        "--encoding",
        choices=ENCODINGS,
        type=encoding_name,
        metavar="CODEPAGE",
        help="code page (required unless --domain/--file): Japanese EBCDIC cp930 cp939 cp1390 cp1399 jef keis jips; Western "
        "EBCDIC cp037 cp273 cp277 cp278 cp280 cp284 cp285 cp297 cp500 cp871 cp1047 "
        "cp1140-cp1149; open-system ascii latin1 utf-8 cp932 euc-jp (aliases as IBM037 ...)",
    )
    p.add_argument(
        "--variant",
        choices=("jis", "jdk"),
        default=None,
        help="wave-dash family mapping (default: jis)",
    )
    p.add_argument(
        "--recfm",
        choices=RECFM_CHOICES,
        default=None,
        type=str.upper,
        help="record format (default: FB): F/FB fixed, V (RDW), VB (BDW+RDW), VS/VBS spanned, "
        "LF/CRLF text lines (open-system encodings only)",
    )
    add_structure_arguments(p, defaults=False)
    p.add_argument("--lrecl", type=int, help="record length for F/FB (default: the copybook's)")
    p.add_argument(
        "--layout", help="the 01 record (or REDEFINES group) to use when there is no record type"
    )
    p.add_argument(
        "--record-type-field", metavar="FIELD", help="field whose value chooses the layout"
    )
    p.add_argument(
        "--record-type",
        action="append",
        default=[],
        metavar="VALUE=LAYOUT[:ROLE]",
        help="record type value -> layout; ROLE is data (default), header or trailer",
    )
    p.add_argument("--header-layout", action="append", default=[], metavar="LAYOUT")
    p.add_argument("--trailer-layout", action="append", default=[], metavar="LAYOUT")
    p.add_argument(
        "--record-count-field",
        metavar="TRAILER-FIELD",
        help="trailer field holding the number of data records",
    )
    p.add_argument(
        "--control-total",
        action="append",
        default=[],
        metavar="TRAILER-FIELD=DATA-FIELD",
        help="trailer field holding the sum of a data field",
    )
    p.add_argument(
        "--mixed-field",
        action="append",
        default=[],
        metavar="NAME",
        help="PIC X field with SO/SI mixed SBCS/DBCS text",
    )
    p.add_argument(
        "--money-field",
        action="append",
        default=[],
        metavar="NAME",
        help="numeric field written as decimal even when integral",
    )
    p.add_argument("--gaiji", metavar="TABLE.csv", help="the city's 外字 table")
    p.add_argument(
        "--gaiji-policy",
        choices=GAIJI_POLICIES,
        default=None,
        help="unmapped 外字: placeholder 〓 (default), quarantine the record, or pua (the "
        "Private Use Area point, e.g. cp932 F040-F9FC -> U+E000-U+E757)",
    )
    p.add_argument(
        "--gaiji-out", metavar="G.parquet", help="write the unmapped 外字 occurrences here"
    )
    p.add_argument(
        "--blank-numeric",
        choices=("quarantine", "null"),
        default=None,
        help="an all-space numeric field: quarantine the record (default) or null",
    )
    p.add_argument(
        "--keep-padding", action="store_true", help="keep trailing SBCS/DBCS spaces in text"
    )
    p.add_argument(
        "--quarantine", metavar="Q.jsonl", help="quarantine file (default: OUT.quarantine.jsonl)"
    )
    p.add_argument("--summary-json", metavar="S.json", help="also write the summary as JSON")
    p.add_argument("--chunk-mb", type=float, default=None, help="MB read per chunk (default 4)")
    _add_inspection_arguments(p)


def _add_copybook_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the copybook and of field decoding (issue 9 §1, §3, §5)."""
    p.add_argument(
        "--copybook-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="where COPY members are looked up after the copybook's own folder (repeatable)",
    )
    p.add_argument(
        "--nsymbol",
        choices=("dbcs", "national"),
        default=None,
        help="PIC N without USAGE: host DBCS (default) or UTF-16BE national (USAGE NATIONAL "
        "always is UTF-16BE)",
    )
    p.add_argument(
        "--decimal-comma",
        action="store_true",
        help="DECIMAL-POINT IS COMMA: ',' is the decimal point of numeric-edited pictures",
    )
    p.add_argument(
        "--keep-filler",
        action="store_true",
        help="keep FILLER fields as columns FILLER_1, FILLER_2 ... (copybook order)",
    )
    p.add_argument(
        "--sbcs-field",
        action="append",
        default=[],
        metavar="NAME",
        help="PIC X field that is strictly single-byte (cp930/939/1390/1399 decode SO/SI in "
        "every other PIC X field)",
    )
    p.add_argument(
        "--float",
        dest="float_format",
        choices=("ibm", "ieee", "ieee-le"),
        default=None,
        help="COMP-1 / COMP-2 format (default: ibm hexadecimal floating point)",
    )
    p.add_argument(
        "--trim",
        choices=("right", "both", "left", "none"),
        default=None,
        help="text padding (SBCS/DBCS spaces, 0x00) to trim (default right; --keep-padding = "
        "none); an all-0x00 text field is null",
    )
    p.add_argument(
        "--bad-field",
        action="append",
        default=[],
        metavar="quarantine|null|NAME=null",
        help="a field that cannot be decoded: quarantine its record (default) or null the field "
        "and go on (a finding in OUT.findings.jsonl); NAME=null|quarantine for one field",
    )


def _add_registry_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "a domain's legacy file (the registry's options)",
        "--domain D --file F: decode with the registry's options for that file, as the extract "
        "stage does (copybook, code page, record format, record types, trailer, mixed / SBCS "
        "fields, record structure ...). The options the registry sets cannot be given with them "
        "(exit 2): decode without --domain/--file to try others. Allowed with them: -o, "
        "--quarantine, --summary-json, --gaiji, --gaiji-policy (default IKOU_GAIJI_POLICY, as the "
        "extract stage), --gaiji-out, --hex, --limit. The extract stage takes the 外字 table from "
        "the snapshot's reference data (_reference/S/gaiji.csv): give that file with --gaiji.",
    )
    g.add_argument("--domain", metavar="D", help="the domain (registry id, e.g. juki)")
    g.add_argument(
        "--file",
        metavar="F",
        help="its legacy file: name or dataset (e.g. ATENA, JUKI.ATENA.MASTER)",
    )


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a positive whole number of records")
    return n


def _add_inspection_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "inspection (personal data: prints to the terminal only, writes nothing)",
    )
    g.add_argument(
        "--hex",
        action="store_true",
        help="show the first records field by field: offset, size, type / picture, decoded "
        "value and the hex of the raw bytes, and what the decode does with each record; no -o",
    )
    g.add_argument(
        "--limit",
        type=_positive,
        metavar="N",
        help="with --hex: how many records (default 10)",
    )


#: options the registry entry of a legacy file sets (argparse dest -> flag): not with
#: --domain/--file (the record-structure flags are added from STRUCTURE_OPTIONS)
REGISTRY_SET = {
    "copybook": "--copybook",
    "copybook_format": "--copybook-format",
    "copybook_dir": "--copybook-dir",
    "nsymbol": "--nsymbol",
    "decimal_comma": "--decimal-comma",
    "keep_filler": "--keep-filler",
    "encoding": "--encoding",
    "variant": "--variant",
    "recfm": "--recfm",
    "lrecl": "--lrecl",
    "layout": "--layout",
    "record_type_field": "--record-type-field",
    "record_type": "--record-type",
    "header_layout": "--header-layout",
    "trailer_layout": "--trailer-layout",
    "record_count_field": "--record-count-field",
    "control_total": "--control-total",
    "mixed_field": "--mixed-field",
    "money_field": "--money-field",
    "sbcs_field": "--sbcs-field",
    "float_format": "--float",
    "trim": "--trim",
    "bad_field": "--bad-field",
    "blank_numeric": "--blank-numeric",
    "keep_padding": "--keep-padding",
    "chunk_mb": "--chunk-mb",
}

#: defaults of the options above when the command line gives the options (no --domain/--file)
DEFAULTS = {
    "copybook_format": "auto",
    "nsymbol": "dbcs",
    "variant": "jis",
    "recfm": "FB",
    "float_format": "ibm",
    "blank_numeric": "quarantine",
    "gaiji_policy": "placeholder",
    "chunk_mb": 4.0,
}


def _given(args, dest: str) -> bool:
    return getattr(args, dest, None) not in (None, [], False, ())


def mode_problem(args) -> str | None:
    """What is wrong with the combination of options (exit 2), or None."""
    domain, lf_name = getattr(args, "domain", None), getattr(args, "file", None)
    hexdump = getattr(args, "hex", False)
    if bool(domain) != bool(lf_name):
        return "--domain and --file go together: the legacy file F of domain D in the registry"
    if domain:
        given = [flag for dest, flag in REGISTRY_SET.items() if _given(args, dest)]
        given += given_structure_flags(args)
        if given:
            return (
                f"{', '.join(given)}: not with --domain/--file (the registry entry sets the "
                "decode options; decode without --domain/--file to try others)"
            )
    elif not (args.copybook and args.encoding):
        return "--copybook and --encoding are required (or --domain D --file F: the registry's)"
    if getattr(args, "limit", None) is not None and not hexdump:
        return "--limit N goes with --hex (the first N records, field by field)"
    if hexdump:
        written = [
            flag
            for dest, flag in (
                ("output", "-o"),
                ("quarantine", "--quarantine"),
                ("summary_json", "--summary-json"),
                ("gaiji_out", "--gaiji-out"),
            )
            if _given(args, dest)
        ]
        if written:
            return f"--hex prints to the terminal and writes nothing: drop {', '.join(written)}"
    elif not args.output:
        return "-o OUT is required (or --hex to look at the first records)"
    return None
