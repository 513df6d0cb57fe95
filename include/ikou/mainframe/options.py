"""The record-structure and code-page options of ``ikou decode``, in one table.

Each row: the command-line flag, the :class:`~ikou.mainframe.engine_options.DecodeOptions` field it
sets, the key under ``legacy_files[].decode`` in the registry (the same name with ``_``), its
default, and how a value is read. :func:`add_structure_arguments` adds them to an argparse
parser, :func:`structure_kwargs` turns parsed arguments into ``DecodeOptions`` keywords, and
:func:`decode_kwargs_from_registry` does the same for a registry ``decode`` mapping (for the
registry's DecodeSpec: every key of :data:`STRUCTURE_OPTIONS` is accepted there).

Bounds are checked by :func:`ikou.mainframe.structure.check_structure` (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ikou.errors import BadArgument
from ikou.moji.codepage_names import KNOWN_CODEPAGES

__all__ = [
    "CODEPAGE_CHOICES",
    "GAIJI_POLICIES",
    "RECFM_CHOICES",
    "REGISTRY_KEYS",
    "STRUCTURE_OPTIONS",
    "StructureOption",
    "add_structure_arguments",
    "decode_kwargs_from_registry",
    "given_structure_flags",
    "parse_pairs",
    "parse_segment_keys",
    "structure_kwargs",
]

RECFM_CHOICES = ("F", "FB", "V", "VB", "VS", "VBS", "LF", "CRLF")
GAIJI_POLICIES = ("placeholder", "quarantine", "pua")
#: the ``--encoding`` choices: every code page the registry accepts (one list, in ikou.moji)
CODEPAGE_CHOICES = KNOWN_CODEPAGES


def _int(text: str) -> int:
    try:
        return int(str(text).strip(), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def parse_pairs(items, option: str) -> dict[str, str]:
    """``["A=B", ...]`` -> {A: B}; BadArgument naming the option otherwise."""
    out: dict[str, str] = {}
    for it in items or []:
        a, sep, b = str(it).partition("=")
        if not sep or not a.strip() or not b.strip():
            raise BadArgument(f"{option} {it!r}: expected A=B")
        out[a.strip()] = b.strip()
    return out


def parse_segment_keys(items, option: str = "--segment-key") -> dict[str, tuple[str, ...]]:
    """``["PARENT=F1,F2"]`` -> {PARENT: (F1, F2)}."""
    return {
        k: tuple(x.strip() for x in v.split(",") if x.strip())
        for k, v in parse_pairs(items, option).items()
    }


@dataclass(frozen=True)
class StructureOption:
    flag: str  # command-line flag
    field: str  # DecodeOptions field and registry decode key
    default: Any
    help: str
    metavar: str | None = None
    type: Callable | None = None  # argparse type
    choices: tuple | None = None
    repeat: bool = False  # repeatable flag (append)
    convert: Callable | None = None  # list of strings -> the DecodeOptions value

    @property
    def registry_key(self) -> str:
        return self.field


STRUCTURE_OPTIONS: tuple[StructureOption, ...] = (
    StructureOption(
        "--rdw-adjust",
        "rdw_adjust",
        0,
        "V/VB/VS/VBS: payload = RDW value - 4 + N (0 for IBM RDWs; +4 when the value excludes "
        "the RDW; -4 when it also counts a block header); with --record-length-field: record "
        "bytes = field value + N",
        "N",
        _int,
    ),
    StructureOption(
        "--bdw-adjust",
        "bdw_adjust",
        0,
        "VB/VBS: block content = BDW value - 4 + N",
        "N",
        _int,
    ),
    StructureOption(
        "--rdw",
        "rdw_endian",
        "big",
        "byte order of the 16-bit RDW/BDW length (bytes 0-1, or 2-3 when 0-1 are zero)",
        None,
        str.lower,
        ("big", "little"),
    ),
    StructureOption(
        "--record-length-field",
        "record_length_field",
        None,
        "with --recfm F: each record's length is this field's value (+ --rdw-adjust)",
        "FIELD",
    ),
    StructureOption(
        "--file-start-offset",
        "file_start_offset",
        0,
        "bytes skipped at the file's start",
        "N",
        _int,
    ),
    StructureOption(
        "--file-end-offset", "file_end_offset", 0, "bytes skipped at the file's end", "N", _int
    ),
    StructureOption(
        "--record-start-offset",
        "record_start_offset",
        0,
        "bytes skipped before each record's layout (_offset stays absolute)",
        "N",
        _int,
    ),
    StructureOption(
        "--record-end-offset",
        "record_end_offset",
        0,
        "bytes skipped after each record's layout",
        "N",
        _int,
    ),
    StructureOption(
        "--segment-parent",
        "segment_parents",
        {},
        "child layout -> parent layout: child rows get _parent_record (and _parent_key); a "
        "child before any parent is quarantined orphan_segment",
        "CHILD=PARENT",
        repeat=True,
        convert=lambda v: parse_pairs(v, "--segment-parent"),
    ),
    StructureOption(
        "--segment-key",
        "segment_keys",
        {},
        "the parent's key fields, copied to its children's _parent_key (joined by '|')",
        "PARENT=FIELD[,FIELD]",
        repeat=True,
        convert=parse_segment_keys,
    ),
)

#: registry ``legacy_files[].decode`` keys of these options -> DecodeOptions fields
REGISTRY_KEYS: dict[str, str] = {o.registry_key: o.field for o in STRUCTURE_OPTIONS}


def add_structure_arguments(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The flags of :data:`STRUCTURE_OPTIONS`; ``defaults=False``: an option not given is None
    (so that a caller can tell it was not given; :func:`structure_kwargs` fills the default)."""
    g = p.add_argument_group("record structure")
    for o in STRUCTURE_OPTIONS:
        kw: dict = {"help": o.help, "dest": o.field}
        if o.metavar:
            kw["metavar"] = o.metavar
        if o.repeat:
            kw.update(action="append", default=[])
        else:
            kw["default"] = o.default if defaults else None
            if o.type is not None:
                kw["type"] = o.type
            if o.choices:
                kw["choices"] = o.choices
        g.add_argument(o.flag, **kw)


def structure_kwargs(args: argparse.Namespace) -> dict:
    """DecodeOptions keywords from parsed arguments."""
    out = {}
    for o in STRUCTURE_OPTIONS:
        v = getattr(args, o.field, None)
        if v is None:
            v = o.default
        out[o.field] = o.convert(v) if o.convert else v
    return out


def given_structure_flags(args: argparse.Namespace) -> list[str]:
    """The structure flags given on the command line (parsed with ``defaults=False``)."""
    return [o.flag for o in STRUCTURE_OPTIONS if getattr(args, o.field, None) not in (None, [])]


def decode_kwargs_from_registry(decode: Mapping[str, Any]) -> dict:
    """DecodeOptions keywords for the structure keys of a registry ``decode`` mapping
    (``segment_parents`` as a mapping or ``["CHILD=PARENT"]``, ``segment_keys`` as
    {PARENT: [FIELD, ...]} or ``["PARENT=F1,F2"]``)."""
    out = {}
    for o in STRUCTURE_OPTIONS:
        if o.registry_key not in decode:
            continue
        v = decode[o.registry_key]
        if o.field == "segment_parents" and not isinstance(v, Mapping):
            v = parse_pairs(v, o.registry_key)
        elif o.field == "segment_keys":
            v = (
                {k: tuple(x) if not isinstance(x, str) else (x,) for k, x in v.items()}
                if isinstance(v, Mapping)
                else parse_segment_keys(v, o.registry_key)
            )
        out[o.field] = v
    return out
