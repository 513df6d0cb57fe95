"""外字 (user-defined characters): the city's table from legacy codes to Unicode.

A table is CSV, UTF-8, with the header ``encoding,legacy_code,unicode,mj_name,note``::

    encoding,legacy_code,unicode,mj_name,note
    cp930,6941,U+9AD9,MJ028902,髙 (hashigo-daka)
    cp930,6942,U+8FBA U+E0101,,邊 with an IVS
    jef,8141,U+E000,,MJ+ addition in the PUA

* ``encoding``: a code-page name (``cp930`` ... ``jips``; aliases such as ``IBM930`` are
  normalised when :mod:`ikou.moji.codepages` knows them); one table may hold several encodings.
* ``legacy_code``: the DBCS code in hex (``6941``, ``0x6941`` and ``69 41`` are accepted).
* ``unicode``: one or more code points ``U+XXXX`` separated by spaces (a base character plus
  an IVS selector, or a PUA code for an MJ+ addition).
* ``mj_name`` (e.g. ``MJ012345``) and ``note`` are kept for the worklist, may be empty.

Errors raise :class:`GaijiTableError` naming the file and line. The same (encoding, code)
twice with different characters is an error; an exact duplicate is accepted.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GaijiTable",
    "GaijiEntry",
    "GaijiTableError",
    "parse_unicode",
    "format_unicode",
    "candidates_for",
    "IBM_FAMILY",
]

COLUMNS = ("encoding", "legacy_code", "unicode", "mj_name", "note")
IBM_FAMILY = ("cp930", "cp939", "cp1390", "cp1399")  # one DBCS code space (300 / 16684)

_CP_RE = re.compile(r"^U\+([0-9A-Fa-f]{4,6})$")


class GaijiTableError(ValueError):
    """A 外字 table that cannot be read; the message names file and line."""

    def __init__(self, message: str, source: str, line: int = 0):
        self.source = source
        self.line = line
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


@dataclass(frozen=True)
class GaijiEntry:
    encoding: str
    code: int
    text: str
    mj_name: str = ""
    note: str = ""
    line: int = 0


def _norm_encoding(name: str) -> str:
    key = name.strip()
    try:
        from ikou.moji.codepages import canonical_name

        return canonical_name(key)
    except Exception:
        return key.lower()


def parse_unicode(value: str) -> str:
    """``"U+9AD9 U+E0100"`` -> the string; ValueError on anything else."""
    parts = value.split()
    if not parts:
        raise ValueError("empty unicode column")
    out = []
    for p in parts:
        m = _CP_RE.match(p)
        if not m:
            raise ValueError(f"{p!r} is not a code point like U+9AD9")
        cp = int(m.group(1), 16)
        if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            raise ValueError(f"{p} is not a Unicode scalar value")
        out.append(chr(cp))
    return "".join(out)


def format_unicode(text: str) -> str:
    """``"髙"`` -> ``"U+9AD9"`` (space separated for sequences)."""
    return " ".join(f"U+{ord(c):04X}" for c in text)


def _parse_code(value: str) -> int:
    v = value.strip().replace(" ", "")
    if v.lower().startswith("0x"):
        v = v[2:]
    if not v or not re.fullmatch(r"[0-9A-Fa-f]{1,4}", v):
        raise ValueError(f"legacy_code {value!r} is not a 2-byte hex code like 6941")
    return int(v, 16)


class GaijiTable:
    """A city's 外字 table: (encoding, legacy code) -> Unicode text."""

    def __init__(self, entries: list[GaijiEntry] | None = None, source: str = "<gaiji>"):
        self.source = source
        self._map: dict[tuple[str, int], GaijiEntry] = {}
        for e in entries or []:
            self._add(e)

    def _add(self, e: GaijiEntry) -> None:
        key = (e.encoding, e.code)
        old = self._map.get(key)
        if old is not None and old.text != e.text:
            raise GaijiTableError(
                f"{e.encoding} {e.code:04X} is mapped twice (also on line {old.line}) to different "
                "characters",
                self.source,
                e.line,
            )
        if old is None:
            self._map[key] = e

    @classmethod
    def load(cls, path_or_text: str | Path, source: str | None = None) -> "GaijiTable":
        """Read a table from a file path, or from CSV text (anything containing a newline)."""
        if isinstance(path_or_text, Path) or "\n" not in str(path_or_text):
            p = Path(path_or_text)
            src = source or str(p)
            try:
                text = p.read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise GaijiTableError(f"cannot read: {exc.strerror or exc}", src) from None
            except UnicodeDecodeError:
                raise GaijiTableError("not UTF-8", src) from None
        else:
            text = str(path_or_text)
            src = source or "<gaiji>"
        return cls.parse(text, src)

    @classmethod
    def parse(cls, text: str, source: str = "<gaiji>") -> "GaijiTable":
        table = cls(source=source)
        if text.startswith("\ufeff"):
            text = text[1:]
        reader = csv.reader(io.StringIO(text, newline=""))
        header = None
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip().lower() for c in row]
                missing = [c for c in COLUMNS[:3] if c not in header]
                if missing:
                    raise GaijiTableError(
                        f"header lacks column(s) {', '.join(missing)} "
                        f"(expected {','.join(COLUMNS)})",
                        source,
                        line,
                    )
                idx = {c: header.index(c) for c in COLUMNS if c in header}
                continue
            if row[0].lstrip().startswith("#"):
                continue
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            if len(row) > len(header):
                raise GaijiTableError(
                    f"{len(row)} columns, the header has {len(header)}", source, line
                )
            enc = row[idx["encoding"]].strip()
            if not enc:
                raise GaijiTableError("empty encoding", source, line)
            try:
                code = _parse_code(row[idx["legacy_code"]])
            except ValueError as exc:
                raise GaijiTableError(str(exc), source, line) from None
            try:
                text_ = parse_unicode(row[idx["unicode"]])
            except ValueError as exc:
                raise GaijiTableError(f"unicode: {exc}", source, line) from None
            mj = row[idx["mj_name"]].strip() if "mj_name" in idx else ""
            if mj and not re.fullmatch(r"MJ\d{6}", mj):
                raise GaijiTableError(f"mj_name {mj!r} is not like MJ012345", source, line)
            note = row[idx["note"]].strip() if "note" in idx else ""
            table._add(GaijiEntry(_norm_encoding(enc), code, text_, mj, note, line))
        if header is None:
            raise GaijiTableError("empty table (no header)", source)
        return table

    def lookup(self, encoding: str, code: int) -> str | None:
        """The Unicode text for ``code`` in ``encoding``, or None."""
        e = self._map.get((_norm_encoding(encoding), int(code)))
        return e.text if e else None

    def entry(self, encoding: str, code: int) -> GaijiEntry | None:
        return self._map.get((_norm_encoding(encoding), int(code)))

    def entries(self, encoding: str | None = None) -> list[GaijiEntry]:
        enc = _norm_encoding(encoding) if encoding else None
        return [e for (k, _), e in sorted(self._map.items()) if enc is None or k == enc]

    @property
    def encodings(self) -> list[str]:
        return sorted({k for k, _ in self._map})

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key) -> bool:
        enc, code = key
        return (_norm_encoding(enc), int(code)) in self._map

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for e in self.entries():
            w.writerow([e.encoding, f"{e.code:04X}", format_unicode(e.text), e.mj_name, e.note])
        return out.getvalue()

    def __repr__(self) -> str:
        return f"GaijiTable({self.source!r}, entries={len(self)})"


def candidates_for(encoding: str, code: int, table: GaijiTable | None = None) -> list[str]:
    """Suggestions for an unmapped code, each ``"U+XXXX 字 (source)"``.

    Sources: the city's table under another encoding sharing the same DBCS code space (IBM
    930 / 939 / 1390 / 1399), and the other IBM code pages' own tables (e.g. a code that
    CCSID 1390 defines but 930 does not).
    """
    enc = _norm_encoding(encoding)
    out: list[str] = []
    seen: set[str] = set()

    def add(text: str, source: str) -> None:
        if text in seen:
            return
        seen.add(text)
        out.append(f"{format_unicode(text)} {text} ({source})")

    family = IBM_FAMILY if enc in IBM_FAMILY else (enc,)
    if table is not None:
        for other in family:
            if other == enc:
                continue
            t = table.lookup(other, code)
            if t:
                add(t, f"gaiji table, {other}")
    if enc in IBM_FAMILY:
        try:
            from ikou.moji.codepages import SEQUENCE, UNDEFINED, get_codepage
        except ImportError:  # pragma: no cover
            return out
        for other in family:
            if other == enc:
                continue
            try:
                cp = get_codepage(other)
            except Exception:
                continue
            v = int(cp.dbcs[code]) if 0 <= code <= 0xFFFF else UNDEFINED
            if v == UNDEFINED:
                continue
            text = cp.dbcs_sequences.get(code, "") if v == SEQUENCE else chr(v)
            if text:
                add(text, f"{other} code page")
    return out
