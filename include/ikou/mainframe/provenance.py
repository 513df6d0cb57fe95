"""What an auditor needs to reproduce a decode: the effective options (after the defaults and the
registry), the copybook's and the input's sha256, the 外字 table's, and the code version.

Written into the summary JSON of ``ikou decode --summary-json`` and into each file's ``decode``
entry of the extract stage's raw manifest. Names, paths, options and hashes only: no record
content (personal data never goes into a summary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from ikou.mainframe.registry_options import (
    copybook_options,
    registry_copybook,
    registry_decode_options,
)
from ikou.storage import join, landing_uri, reference_uri

__all__ = ["code_record", "decode_provenance", "options_record", "registry_file_provenance"]

#: DecodeOptions fields left out of the record: objects (the 外字 table and a code page object
#: are recorded by path / name), and the file name (the input is recorded on its own)
_LEFT_OUT = ("gaiji", "codepage", "file_name")


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def options_record(opts) -> dict:
    """The effective :class:`~ikou.mainframe.engine_options.DecodeOptions` as JSON-able values."""
    out = {f.name: _plain(getattr(opts, f.name)) for f in fields(opts) if f.name not in _LEFT_OUT}
    if opts.codepage is not None:
        out["codepage"] = getattr(opts.codepage, "name", type(opts.codepage).__name__)
    return out


def code_record() -> dict:
    """The ikou package version and the git commit of its code (None when not known without
    network: an installed package outside a git checkout)."""
    from ikou import __version__
    from ikou.storage import code_version

    commit = code_version()
    return {"ikou": __version__, "git_commit": None if commit == "unknown" else commit}


def _file(path, sha256: str | None = None, size: int | None = None, name=None) -> dict:
    """A file's path (or URI: ``name``), sha256 and size; the file is read only for what is not
    given (a URI that is not a local file: what is not given stays None)."""
    from ikou.storage import sha256_file

    local = Path(path)
    here = not str(path).startswith("s3://") and local.is_file()
    return {
        "path": str(name or path),
        "sha256": sha256 or (sha256_file(local) if here else None),
        "bytes": size if size is not None else (local.stat().st_size if here else None),
    }


def decode_provenance(
    opts,
    *,
    copybook_path,
    copybook_options: Mapping,
    copybook_members=(),
    input_path,
    input_sha256: str | None = None,
    input_bytes: int | None = None,
    gaiji_path=None,
    gaiji_name=None,
    registry: Mapping | None = None,
) -> dict:
    """The keys a decode summary gains: ``options``, ``copybook``, ``input``, ``gaiji_table``,
    ``registry`` (domain and legacy file when the registry chose the options) and ``code``.

    ``copybook_members``: the COPY member files the copybook expanded
    (:attr:`~ikou.mainframe.copybook.layout.Copybook.members`), recorded under
    ``copybook.members`` with their sha256. ``input_sha256`` / ``input_bytes``: known already (a
    landing manifest); otherwise the file is read once more to hash it. ``gaiji_name``: the 外字 table's name to record (its URI) when
    ``gaiji_path`` is a local copy."""
    copybook = _file(copybook_path)
    copybook["options"] = _plain(dict(copybook_options))
    copybook["members"] = [_file(m) for m in copybook_members]
    return {
        "options": options_record(opts),
        "copybook": copybook,
        "input": _file(input_path, input_sha256, input_bytes),
        "gaiji_table": _file(gaiji_path, name=gaiji_name) if gaiji_path else None,
        "registry": dict(registry) if registry else None,
        "code": code_record(),
    }


def registry_file_provenance(
    lf,
    domain: str,
    snapshot: str,
    landing_name: str,
    gaiji_path,
    *,
    sha256: str | None,
    size: int | None,
    byte_range=None,
    copybook=None,
) -> dict:
    """:func:`decode_provenance` of a landed registry legacy file (or of one byte range of it,
    which the options record): the registry's options, the copybook and its COPY members, the
    landed input, the snapshot's 外字 table (recorded by its URI in the reference zone)."""
    cb = copybook if copybook is not None else registry_copybook(lf)
    return decode_provenance(
        registry_decode_options(lf, landing_name, gaiji_path, byte_range),
        copybook_path=lf.copybook_path,
        copybook_options=copybook_options(lf),
        copybook_members=cb.members,
        input_path=join(landing_uri(domain, snapshot), landing_name),
        input_sha256=sha256,
        input_bytes=size,
        gaiji_path=gaiji_path,
        gaiji_name=join(reference_uri(snapshot), "gaiji.csv") if gaiji_path else None,
        registry={"domain": domain, "file": lf.name, "dataset": lf.dataset},
    )
