"""How to decode one file: :class:`DecodeOptions` and the policy values it accepts.

Used by :mod:`ikou.mainframe.engine` (the decoding run); the command line fills it from
:mod:`ikou.mainframe.options`, the registry from :mod:`ikou.mainframe.registry_options`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["BAD_FIELD_POLICIES", "MIXED_CCSIDS", "DecodeOptions", "mixed_by_default"]

BAD_FIELD_POLICIES = ("quarantine", "null")

#: CCSIDs that are mixed SBCS/DBCS by definition: SO/SI decoded in every PIC X field by default
MIXED_CCSIDS = ("cp930", "cp939", "cp1390", "cp1399")


def mixed_by_default(encoding: str) -> bool:
    """CCSID 930 / 939 / 1390 / 1399 (any variant name): PIC X fields decode SO/SI."""
    e = (encoding or "").lower().replace("-", "").replace("_", "")
    return any(e == c or e.startswith(c) for c in MIXED_CCSIDS) or e in (
        "ibm930",
        "ibm939",
        "ibm1390",
        "ibm1399",
    )


@dataclass
class DecodeOptions:
    """How to read one file. Only ``encoding`` and ``recfm`` usually need setting.

    encoding          cp930 | cp939 | cp1390 | cp1399 | jef | keis | jips (ikou.moji.codepages)
    variant           "jis" (default) or "jdk": the wave-dash family mapping (cp930 / cp939)
    recfm, lrecl      F | FB | V | VB; lrecl (F / FB) defaults to the largest layout in use
    layout            the data layout (01 record or REDEFINES group) when there is no
                      record-type field; default: the copybook's only 01 record
    record_type_field, record_types
                      a field and {value: layout name}: each record's layout is chosen by the
                      value of that field (e.g. {"H": "HDR-REC", "D": "DATA-REC", "T": "TRL-REC"})
    header_layouts, trailer_layouts
                      which of those layouts are header / trailer records (not data)
    record_count_field, control_totals
                      trailer checks: a trailer field holding the number of data records, and
                      {trailer field: data field} sums (e.g. {"TRL-TOTAL": "AMOUNT"})
    mixed_fields      PIC X fields holding SBCS + SO/SI DBCS text
    money_fields      numeric fields output as decimal even when integral (packed always are)
    keep_padding      keep trailing SBCS 0x40 / DBCS 0x4040 in text
    gaiji             a GaijiTable, or a path to the city's 外字 CSV
    gaiji_policy      "placeholder" (〓 in the text, record kept, occurrence reported) or
                      "quarantine" (record quarantined with reason unmapped_gaiji)
    blank_numeric     "quarantine" (default; an all-space numeric field is a bad record) or
                      "null" (it becomes null); it decides the all-blank case, whatever bad_field
    sbcs_fields       PIC X fields that are strictly single-byte: with CCSID 930 / 939 / 1390 /
                      1399 every other PIC X field decodes SO/SI (mixed); JEF / KEIS / JIPS only
                      decode SO/SI in mixed_fields
    trim              right (default) | both | left | none: SBCS / DBCS spaces and 0x00 are
                      padding, an all-0x00 text field is null; None = keep_padding decides
    float_format      ibm (default) | ieee | ieee-le for every COMP-1 / COMP-2 field
    bad_field         "quarantine" (default: a field that cannot be decoded costs its record) or
                      "null" (the field is null, the record goes on, a finding names it)
    bad_fields        per field {NAME: "null" | "quarantine"}, over bad_field
    chunk_bytes       bytes read per chunk (bounded memory)
    file_name         the ``_file`` lineage value (default: the path, or "<stream>")
    byte_range        (start, end) for F / FB: decode only that record-aligned part
    codepage          a CodePage object instead of looking ``encoding`` up (tests, custom pages)
    max_raw_bytes     raw bytes kept per quarantined record (hex in the quarantine)
    rdw_adjust, bdw_adjust
                      payload bytes = descriptor value - 4 + adjust (V / VB / VS / VBS; with
                      record_length_field: record bytes = field value + rdw_adjust)
    rdw_endian        "big" (default) or "little": the 16-bit length of RDWs and BDWs
    record_length_field
                      RECFM F: each record's length is this field's value (+ rdw_adjust)
    file_start_offset, file_end_offset
                      bytes skipped at the start / end of the file
    record_start_offset, record_end_offset
                      bytes skipped before / after each record's layout (``_offset`` stays the
                      record's absolute offset)
    segment_parents   {CHILD layout: PARENT layout}: child rows get ``_parent_record`` (and
                      ``_parent_key`` from segment_keys {PARENT: (field, ...)}); a child before
                      any parent is quarantined ``orphan_segment``
    gaiji_policy "pua": an unmapped 外字 keeps its Private Use Area code point (cp932
                      U+E000-U+E757; IBM user-defined area as iconv maps it)
    """

    encoding: str = "cp930"
    variant: str = "jis"
    recfm: str = "FB"
    lrecl: int | None = None
    layout: str | None = None
    record_type_field: str | None = None
    record_types: Mapping[str, str] = field(default_factory=dict)
    header_layouts: tuple[str, ...] | str = ()
    trailer_layouts: tuple[str, ...] | str = ()
    record_count_field: str | None = None
    control_totals: Mapping[str, str] = field(default_factory=dict)
    mixed_fields: tuple[str, ...] = ()
    money_fields: tuple[str, ...] = ()
    keep_padding: bool = False
    gaiji: object = None
    gaiji_policy: str = "placeholder"
    blank_numeric: str = "quarantine"
    sbcs_fields: tuple[str, ...] = ()
    trim: str | None = None
    float_format: str = "ibm"
    bad_field: str = "quarantine"
    bad_fields: Mapping[str, str] = field(default_factory=dict)
    chunk_bytes: int = 4 << 20
    file_name: str | None = None
    byte_range: tuple[int, int] | None = None
    codepage: object = None
    max_raw_bytes: int = 65536
    # record structure (ikou.mainframe.structure / reader): see the list above
    rdw_adjust: int = 0
    bdw_adjust: int = 0
    rdw_endian: str = "big"
    record_length_field: str | None = None
    file_start_offset: int = 0
    file_end_offset: int = 0
    record_start_offset: int = 0
    record_end_offset: int = 0
    segment_parents: Mapping[str, str] = field(default_factory=dict)
    segment_keys: Mapping[str, tuple] = field(default_factory=dict)
