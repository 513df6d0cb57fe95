"""COBOL copybook parser: record layouts from data division entries (stdlib only).

A layer of its own (as in Cobrix): it knows nothing about files, code pages or Arrow.

    cb = parse_copybook(text, source="juki.cpy")
    layout = cb.record("JUKI-REC")          # an 01 record, or a group chosen by REDEFINES
    for f in layout.fields:                 # elementary fields, absolute offsets
        print(f.column, f.offset, f.size, f.kind, f.digits, f.scale)

Passes, one module each:

``library``   COPY name [REPLACING ==a== BY ==b==] expanded (copybook folder, then search dirs)
``lexer``     source text -> tokens (fixed columns 7/8-72, free, or auto-detected)
``parser``    tokens -> entries -> the item tree of each 01 record
``pictures``  PICTURE + USAGE -> kind, digits, scale, sign, size
``layout``    offsets (SYNCHRONIZED slack bytes), REDEFINES, OCCURS [DEPENDING ON], columns
``model``     the data classes and :class:`CopybookError`

Supported: levels 01-49, 66 RENAMES, 77, 88 condition names (kept as code lists in
``field.conditions``), PIC X / A / 9 / N / G with S, V, P and repeat counts, numeric-edited
pictures (kind ``edited``: decoded to a decimal with the picture's scale), USAGE DISPLAY /
DISPLAY-1 / NATIONAL (UTF-16BE, kind ``national``) / COMP / COMP-0 / COMPUTATIONAL / BINARY /
COMP-4 / COMP-5 / COMP-3 / PACKED-DECIMAL / COMP-1 / COMP-2 / INDEX / POINTER, SIGN LEADING /
TRAILING [SEPARATE [CHARACTER]] (the sign byte always counted), OCCURS n [TIMES], OCCURS [m TO]
n [TIMES] DEPENDING ON x (minimum 1 without ``m TO``; also inside another OCCURS:
``RecordLayout.nested_odo``, read by ``ikou.mainframe.variable``), REDEFINES, FILLER, VALUE, JUSTIFIED /
BLANK WHEN ZERO, SYNCHRONIZED (IBM slack bytes for binary / float / index / pointer items),
several 01 records sharing one record area (as in an FD).

Source format: ``auto`` (default; fixed columns when every code line has a blank or an
indicator in column 7 and nothing but a sequence number in 1-6, else free), ``fixed``:
columns 1-6 sequence area (ignored), column 7 indicator (``*`` / ``/`` comment, ``D``
debugging line = comment, ``-`` continuation), columns 8-72 the entry, 73-80 ignored; ``*>``
starts an inline comment. ``free``: the whole line is code, ``*`` in column 1 or ``*>`` start
comments. Names are case-insensitive and kept upper case.

Errors raise :class:`CopybookError` (a ``ValueError``) naming source, line and column.
"""

from __future__ import annotations

from ikou.mainframe.copybook.layout import Copybook, RecordLayout
from ikou.mainframe.copybook.model import KINDS, CopybookError, Dim, Field, Item, Renames
from ikou.mainframe.copybook.parser import parse_copybook

__all__ = [
    "KINDS",
    "Copybook",
    "CopybookError",
    "Dim",
    "Field",
    "Item",
    "RecordLayout",
    "Renames",
    "parse_copybook",
]
