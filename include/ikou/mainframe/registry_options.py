"""The decode options of a registry legacy file: the one mapping from a domain's
``legacy_files[]`` entry to the engine's :class:`~ikou.mainframe.engine_options.DecodeOptions` and to
the parsed copybook.

The extract stage (``ikou.stages.extract``: ``extract_options``, ``load_copybook``), ``ikou land``
(its trial decode) and ``ikou decode --domain D --file F`` all use these functions, so a file
decodes the same way in each of them.
"""

from __future__ import annotations

from ikou.config import settings
from ikou.domains import registry
from ikou.errors import BadArgument

__all__ = [
    "copybook_options",
    "find_legacy_file",
    "registry_copybook",
    "registry_decode_options",
]


def find_legacy_file(domain_id: str, name: str):
    """The registry entry of legacy file ``name`` (its name or dataset, any case) of
    ``domain_id``; BadArgument (exit 2) naming what is allowed otherwise."""
    reg = registry()
    if domain_id not in reg:
        raise BadArgument(f"--domain {domain_id!r}: unknown domain; known: {', '.join(reg.ids)}")
    domain = reg.get(domain_id)
    want = (name or "").strip().upper()
    for lf in domain.legacy_files:
        if want in (lf.name.upper(), lf.dataset.upper()):
            return lf
    known = ", ".join(f"{lf.name} ({lf.dataset})" for lf in domain.legacy_files)
    raise BadArgument(f"--file {name!r}: not a legacy file of {domain_id}; its files: {known}")


def copybook_options(lf) -> dict:
    """How the legacy file's copybook is parsed (format, COPY folders, NSYMBOL, decimal comma,
    FILLER columns): keywords of :func:`ikou.mainframe.copybook.parse_copybook`."""
    spec = lf.decode
    return {
        "format": spec.copybook_format,
        "copybook_dirs": tuple(str(d) for d in lf.copybook_dirs),
        "nsymbol": spec.nsymbol,
        "decimal_comma": spec.decimal_comma,
        "keep_filler": spec.keep_filler,
    }


def registry_copybook(lf):
    """The legacy file's copybook, parsed with its ``decode`` options."""
    from ikou.mainframe.copybook import parse_copybook

    return parse_copybook(
        lf.copybook_path.read_text(encoding="utf-8"),
        source=str(lf.copybook_path),
        **copybook_options(lf),
    )


def registry_decode_options(
    lf, file_name: str, gaiji_path, byte_range=None, gaiji_policy: str | None = None
):
    """The engine's options for a registry legacy file (the same for the whole file and its
    parts); ``gaiji_policy`` None: the deployment's (IKOU_GAIJI_POLICY)."""
    from ikou.mainframe.engine_options import DecodeOptions
    from ikou.mainframe.options import decode_kwargs_from_registry

    spec = lf.decode
    return DecodeOptions(
        encoding=lf.encoding,
        variant=spec.variant,
        recfm=lf.recfm,
        lrecl=lf.lrecl,
        layout=spec.layout,
        sbcs_fields=tuple(lf.sbcs_fields),
        money_fields=tuple(lf.money_fields),
        keep_padding=spec.keep_padding,
        trim="none" if spec.keep_padding else spec.trim,
        float_format=spec.float_format,
        blank_numeric=spec.blank_numeric,
        bad_field=spec.bad_field,
        bad_fields=lf.bad_fields,
        **decode_kwargs_from_registry(spec.model_dump()),
        chunk_bytes=max(1 << 16, int(spec.chunk_mb * (1 << 20))),
        record_type_field=lf.record_type_field,
        record_types=dict(lf.record_types),
        header_layouts=tuple(v for k, v in lf.record_types.items() if k == "H"),
        trailer_layouts=tuple(v for k, v in lf.record_types.items() if k == "T"),
        record_count_field=lf.trailer.count_field,
        control_totals=dict(lf.trailer.sums),
        mixed_fields=tuple(lf.mixed_fields),
        gaiji=str(gaiji_path) if gaiji_path else None,
        gaiji_policy=gaiji_policy or settings().gaiji_policy,
        file_name=file_name,
        byte_range=byte_range,
    )
