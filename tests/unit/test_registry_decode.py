"""``legacy_files[].decode`` (issue 9): every decode option has a registry key, unknown keys are
refused with the file and entry named, ``bad_field: null`` per field, and the extract stage
passes the keys to the copybook parser and the engine. Registry copies under tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ikou.domains import RegistryError, load_registry
from ikou.domains.schema import DATA_DIR, DecodeSpec
from ikou.stages.extract import extract_options, load_copybook


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(DATA_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit(path: Path, fn) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_unknown_decode_key_is_refused_naming_it(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0].update(decode={"colour": "red"}))
    with pytest.raises(RegistryError) as exc:
        load_registry(data)
    msg = str(exc.value)
    assert str(path) in msg and "legacy_files.0.decode.colour" in msg and "unknown field" in msg


def test_bad_values_are_refused(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0].update(decode={"trim": "middle"}))
    with pytest.raises(RegistryError, match="decode.trim"):
        load_registry(data)


def test_decode_keys_reach_the_engine_and_the_parser(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"

    def edit(raw):
        lf = raw["legacy_files"][0]
        field = next(iter(lf["fields"]))
        lf["fields"][field]["bad_field"] = None  # YAML null: the policy "null"
        lf["decode"] = {
            "float": "ieee",
            "trim": "both",
            "bad_field": "quarantine",
            "sbcs_fields": [field],
            "keep_filler": True,
            "copybook_format": "fixed",
            "rdw_adjust": -4,
            "record_start_offset": 2,
        }

    _edit(path, edit)
    lf = load_registry(data).get("inkan").legacy_files[0]
    field = next(iter(lf.fields))
    opts = extract_options(lf, "X.DAT", None)
    assert opts.float_format == "ieee" and opts.trim == "both"
    assert opts.bad_field == "quarantine" and opts.bad_fields == {field: "null"}
    assert field in opts.sbcs_fields
    assert (opts.rdw_adjust, opts.record_start_offset) == (-4, 2)
    cb = load_copybook(lf)
    assert all(not f.filler for f in cb.record(lf.data_layout).fields)


def test_every_decode_key_changes_what_extract_passes(tmp_path):
    """A key that reaches neither DecodeOptions nor the copybook would be silently ignored."""
    lf = load_registry().get("inkan").legacy_files[0]
    base = extract_options(lf, "X.DAT", None)
    samples = {
        "copybook_format": "free",
        "copybook_dirs": ["x"],
        "nsymbol": "national",
        "decimal_comma": True,
        "keep_filler": True,
        "variant": "jdk",
        "sbcs_fields": ["A"],
        "money_fields": ["A"],
        "float_format": "ieee",
        "trim": "left",
        "keep_padding": True,
        "blank_numeric": "null",
        "bad_field": "null",
        "bad_fields": {"A": "null"},
        "layout": "X",
        "rdw_adjust": 4,
        "bdw_adjust": 4,
        "rdw_endian": "little",
        "record_length_field": "L",
        "file_start_offset": 1,
        "file_end_offset": 1,
        "record_start_offset": 1,
        "record_end_offset": 1,
        "segment_parents": {"C": "P"},
        "segment_keys": {"P": ["K"]},
        "chunk_mb": 8,
    }
    assert set(samples) == set(DecodeSpec.model_fields)
    parser_keys = {"copybook_format", "copybook_dirs", "nsymbol", "decimal_comma", "keep_filler"}
    for key, value in samples.items():
        changed = lf.model_copy(update={"decode": DecodeSpec(**{key: value})})
        changed._data_dir = lf._data_dir
        if key in parser_keys:
            continue  # checked through load_copybook below
        assert extract_options(changed, "X.DAT", None) != base, key
    # the parser keys: format (free cannot read a fixed copybook) and the folders
    free = lf.model_copy(update={"decode": DecodeSpec(copybook_format="fixed")})
    free._data_dir = lf._data_dir
    assert (
        load_copybook(free).record(lf.data_layout).size
        == load_copybook(lf).record(lf.data_layout).size
    )
    assert lf.model_copy(update={"decode": DecodeSpec(copybook_dirs=["sub"])}).decode.copybook_dirs


def test_the_registry_knows_every_option_of_the_engine_tables():
    from dataclasses import fields

    from ikou.domains.schema import LegacyFile
    from ikou.mainframe.engine_options import DecodeOptions
    from ikou.mainframe.options import CODEPAGE_CHOICES, RECFM_CHOICES, STRUCTURE_OPTIONS
    from ikou.moji.codepage_names import KNOWN_CODEPAGES

    keys = set(DecodeSpec.model_fields)
    assert {o.registry_key for o in STRUCTURE_OPTIONS} <= keys
    engine = {f.name for f in fields(DecodeOptions)}
    # every DecodeOptions field is a registry key, a legacy-file key, or set by the stage
    by_file = {"encoding", "recfm", "lrecl", "record_type_field", "record_types"}
    by_stage = {
        "header_layouts", "trailer_layouts", "record_count_field", "control_totals",
        "mixed_fields", "gaiji", "gaiji_policy", "file_name", "byte_range", "codepage",
        "max_raw_bytes", "chunk_bytes", "bad_fields", "sbcs_fields", "money_fields",
    }  # fmt: skip
    assert engine - keys - by_file - by_stage == set()
    import typing

    assert CODEPAGE_CHOICES == KNOWN_CODEPAGES
    assert set(typing.get_args(LegacyFile.model_fields["recfm"].annotation)) == set(RECFM_CHOICES)


def test_the_registry_and_the_command_line_take_their_code_pages_from_one_list():
    """One list (ikou.moji.codepage_names.KNOWN_CODEPAGES): the registry accepts exactly it, the
    CLI offers exactly it, and every name in it is a code page the decoders can build."""
    from ikou.mainframe.options import CODEPAGE_CHOICES
    from ikou.moji.codepage_names import KNOWN_CODEPAGES
    from ikou.moji.codepages import canonical_name

    assert CODEPAGE_CHOICES is KNOWN_CODEPAGES
    lf = load_registry().get("inkan").legacy_files[0]
    raw = lf.model_dump()
    for name in KNOWN_CODEPAGES:
        assert canonical_name(name) == name
        assert type(lf).model_validate({**raw, "encoding": name}).encoding == name
    for name in ("cp931", "IBM930", "shift_jis", ""):
        with pytest.raises(ValidationError, match="unknown encoding"):
            type(lf).model_validate({**raw, "encoding": name})
