"""Record encoder: Python values -> legacy record bytes (for the synthetic city and tests).

    layout = parse_copybook(text).record("JUKI-REC")
    raw = encode_record(layout, {"ATENA-NO": 12, "SHIMEI-KANJI": "山田　太郎"}, get_codepage("cp930"))
    data = frame_records([raw, ...], "VB")          # RDW / BDW framing for V and VB files

Text: ``str`` is encoded through the code page (PIC X: SBCS, PIC N/G: DBCS, fields named in
``mixed_fields``: SBCS with SO/SI-delimited DBCS) and padded with SBCS 0x40 / DBCS 0x4040;
``bytes`` are placed as they are (padded), which is how a test writes 外字 codes or broken
data. Numbers: ``int`` / ``Decimal`` (``float`` only for COMP-1 / COMP-2), zoned with an
overpunched sign (or a separate sign character) for signed fields, packed with C/D sign nibble
(F when unsigned), binary big-endian two's complement, floats in IBM hexadecimal format.
A missing value gives spaces for text and zero for numbers; fields inside a REDEFINES
alternative are only written when a value is given. A value that does not fit raises
``ValueError`` naming the field, never the value (values are personal data).
OCCURS fields take lists (nested lists for nested OCCURS); for OCCURS ... DEPENDING ON the
count field defaults to the length of the longest list given for the table, and the record is
as long as that count makes it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal, InvalidOperation, localcontext
from typing import Iterable, Mapping

from ikou.mainframe.copybook import Field, RecordLayout

__all__ = ["encode_record", "encode_field", "frame_records", "rdw"]

_SEP_PLUS = 0x4E  # '+' in EBCDIC
_SEP_MINUS = 0x60  # '-' in EBCDIC


def encode_record(
    layout: RecordLayout,
    values: Mapping[str, object],
    codepage,
    *,
    mixed_fields: Iterable[str] = (),
    record_length: int | None = None,
) -> bytes:
    """Encode one record of ``layout``; returns exactly the record length in bytes.

    ``record_length`` pads (with SBCS spaces) a shorter layout to a file's LRECL, e.g. a
    header layout in a file whose data records are longer.
    """
    mixed = tuple(mixed_fields)
    if mixed:
        layout = layout.with_kinds(mixed)
    vals = {str(k).strip().upper(): v for k, v in values.items()}
    fields = layout.fields
    used: set[str] = set()

    def lookup(f: Field):
        keys = [f.column, f.qualified]
        if f.name in layout and layout.field(f.name) is f:
            keys.append(f.name)
        for key in keys:
            if key and key in vals:
                used.add(key)
                return True, vals[key]
        return False, None

    # OCCURS DEPENDING ON: counts from the count field, else from the lists given
    counts: list[int] = []
    count_values: dict[str, int] = {}
    for dim, _start, _end in layout.odo:
        dep = layout.field(dim.depends_on)
        given, v = lookup(dep)
        if given and v is not None:
            try:
                n = int(v)
            except (TypeError, ValueError):
                raise ValueError(
                    f"field {dep.column}: OCCURS DEPENDING ON count is not an integer"
                ) from None
        else:
            n = 0
            for f in fields:
                if f.dims and f.dims[0] is dim or (f.dims and any(d is dim for d in f.dims)):
                    g, lv = lookup(f)
                    if g and isinstance(lv, (list, tuple)):
                        n = max(n, len(lv))
            n = max(n, dim.min)
            count_values[dep.column] = n
        if not dim.min <= n <= dim.max:
            raise ValueError(
                f"field {dep.column}: OCCURS DEPENDING ON count outside {dim.min}..{dim.max}"
            )
        counts.append(n)
    used.clear()

    size = layout.size
    buf = (
        bytearray(bytes([codepage.sbcs_space]) * size)
        if isinstance(codepage.sbcs_space, int)
        else bytearray(bytes(codepage.sbcs_space) * size)
    )
    length = size
    for t, (dim, _s, _e) in enumerate(layout.odo):
        length += (counts[t] - dim.max) * dim.stride
    for f in fields:
        if f.filler:
            continue
        given, v = lookup(f)
        if f.column in count_values and not given:
            given, v = True, count_values[f.column]
        if not given and f.lenient:
            continue
        shift = sum((counts[t] - layout.odo[t][0].max) * layout.odo[t][0].stride for t in f.shifts)
        base = f.offset + shift
        if not f.dims:
            buf[base : base + f.size] = encode_field(f, v, codepage)
            continue
        if v is not None and not isinstance(v, (list, tuple)):
            raise ValueError(f"field {f.column}: OCCURS field takes a list")
        dim_counts = []
        for d in f.dims:
            if d.depends_on:
                dim_counts.append(counts[next(i for i, x in enumerate(layout.odo) if x[0] is d)])
            else:
                dim_counts.append(d.max)
        _write_table(buf, f, v, codepage, base, 0, dim_counts)
    unknown = set(vals) - used - set(count_values)
    if unknown:
        raise ValueError(f"layout {layout.name} has no field(s) {', '.join(sorted(unknown))}")
    out = bytes(buf[:length])
    if record_length is not None:
        if record_length < len(out):
            raise ValueError(
                f"layout {layout.name}: record of {len(out)} bytes exceeds record_length {record_length}"
            )
        out += bytes([_space(codepage)]) * (record_length - len(out))
    return out


def _space(codepage) -> int:
    s = codepage.sbcs_space
    return s if isinstance(s, int) else s[0]


def _write_table(
    buf: bytearray, f: Field, v, codepage, base: int, level: int, counts: list[int]
) -> None:
    d = f.dims[level]
    items = list(v) if v is not None else []
    if len(items) > counts[level]:
        raise ValueError(
            f"field {f.column}: {len(items)} elements given, the table holds {counts[level]}"
        )
    for i in range(counts[level]):
        item = items[i] if i < len(items) else None
        off = base + i * d.stride
        if level + 1 < len(f.dims):
            if item is not None and not isinstance(item, (list, tuple)):
                raise ValueError(f"field {f.column}: nested OCCURS takes nested lists")
            _write_table(buf, f, item, codepage, off, level + 1, counts)
        else:
            buf[off : off + f.size] = encode_field(f, item, codepage)


def encode_field(f: Field, value, codepage) -> bytes:
    """Bytes of one element of ``f`` (``None`` = spaces / zero)."""
    kind = f.kind
    if kind in ("alphanumeric", "mixed", "dbcs"):
        return _text(f, value, codepage)
    if kind == "national":
        return _national(f, value)
    if kind == "float":
        return _float(f, value)
    if kind == "edited" and isinstance(value, (str, bytes, bytearray)):
        return _text(replace(f, kind="alphanumeric"), value, codepage)  # the printed form as is
    n = _scaled(f, value)
    if kind == "edited":
        return codepage.encode_sbcs(edit_number(f, n))
    if kind == "zoned":
        return _zoned(f, n)
    if kind == "packed":
        return _packed(f, n)
    if kind == "binary":
        return _binary(f, n)
    raise ValueError(f"field {f.column}: unknown kind {kind}")


def _text(f: Field, value, codepage) -> bytes:
    if value is None:
        raw = b""
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            if f.kind == "dbcs":
                raw = codepage.encode_dbcs(value)
            elif f.kind == "mixed":
                raw = codepage.encode_mixed(value)
            else:
                raw = codepage.encode_sbcs(value)
        except Exception as exc:  # the code page's error names the character: do not chain it
            kind = type(exc).__name__
            raise ValueError(
                f"field {f.column}: text cannot be encoded in {codepage.name} ({kind})"
            ) from None
    elif (
        isinstance(value, (int, Decimal))
        and not isinstance(value, bool)
        and f.kind == "alphanumeric"
    ):
        s = str(value)
        raw = codepage.encode_sbcs(s)
    else:
        raise ValueError(
            f"field {f.column}: text field takes str or bytes, not {type(value).__name__}"
        )
    if len(raw) > f.size:
        raise ValueError(
            f"field {f.column}: value does not fit ({len(raw)} bytes, field holds {f.size})"
        )
    if f.kind == "dbcs":
        if len(raw) % 2:
            raise ValueError(f"field {f.column}: DBCS value has an odd number of bytes")
        sp = codepage.dbcs_space
        pad = sp.to_bytes(2, "big") if isinstance(sp, int) else bytes(sp)
        return raw + pad * ((f.size - len(raw)) // 2)
    return raw + bytes([_space(codepage)]) * (f.size - len(raw))


def _scaled(f: Field, value) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"field {f.column}: numeric field takes int or Decimal, not bool")
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field {f.column}: value is not finite")
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"field {f.column}: value is not a number") from None
    else:
        raise ValueError(
            f"field {f.column}: numeric field takes int or Decimal, not {type(value).__name__}"
        )
    if not d.is_finite():
        raise ValueError(f"field {f.column}: value is not finite")
    with localcontext() as ctx:
        ctx.prec = 80
        q = d.scaleb(f.scale)
    if q != q.to_integral_value():
        raise ValueError(
            f"field {f.column}: value has more decimal places than the PICTURE allows "
            f"(scale {f.scale})"
        )
    n = int(q)
    if n < 0 and not f.signed:
        raise ValueError(f"field {f.column}: negative value in an unsigned field")
    if f.kind == "binary" and f.usage in ("comp-5", "index", "pointer"):
        lim = 1 << (8 * f.size - (1 if f.signed else 0))
        if n >= lim or n < -lim:
            raise ValueError(f"field {f.column}: value does not fit ({f.size}-byte binary)")
    elif abs(n) >= 10**f.digits:
        raise ValueError(f"field {f.column}: value does not fit ({f.digits} digits)")
    return n


def _zoned(f: Field, n: int) -> bytes:
    digits = str(abs(n)).rjust(f.digits, "0")
    out = bytearray(0xF0 | int(c) for c in digits)
    if f.signed:
        if f.sign_separate:
            s = _SEP_MINUS if n < 0 else _SEP_PLUS
            if f.sign_position == "leading":
                out.insert(0, s)
            else:
                out.append(s)
        else:
            zone = 0xD0 if n < 0 else 0xC0
            i = 0 if f.sign_position == "leading" else len(out) - 1
            out[i] = zone | (out[i] & 0x0F)
    return bytes(out)


def _packed(f: Field, n: int) -> bytes:
    nibbles = str(abs(n)).rjust(2 * f.size - 1, "0")
    sign = (0xD if n < 0 else 0xC) if f.signed else 0xF
    vals = [int(c) for c in nibbles] + [sign]
    return bytes((vals[i] << 4) | vals[i + 1] for i in range(0, len(vals), 2))


def _binary(f: Field, n: int) -> bytes:
    try:
        return n.to_bytes(f.size, "big", signed=f.signed)
    except OverflowError:
        raise ValueError(f"field {f.column}: value does not fit ({f.size}-byte binary)") from None


def _float(f: Field, value) -> bytes:
    if value is None:
        return bytes(f.size)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"field {f.column}: float field takes a number") from None
    try:
        return ibm_float_bytes(x, f.size)
    except OverflowError:
        raise ValueError(
            f"field {f.column}: value out of the IBM hexadecimal float range"
        ) from None


def ibm_float_bytes(x: float, size: int) -> bytes:
    """IBM System/360 hexadecimal floating point (4 or 8 bytes), big-endian."""
    if not math.isfinite(x):
        raise OverflowError("not finite")
    bits = 24 if size == 4 else 56
    if x == 0:
        return bytes(size)
    sign = 0x80 if x < 0 else 0
    m, e = math.frexp(abs(x))  # abs(x) = m * 2**e, 0.5 <= m < 1
    exp16 = -((-e) // 4)  # ceil(e / 4)
    frac = m * 2.0 ** (e - 4 * exp16)  # in [1/16, 1)
    mant = round(frac * (1 << bits)) if bits <= 53 else int(frac * (1 << 53)) << (bits - 53)
    if mant >= 1 << bits:
        mant >>= 4
        exp16 += 1
    biased = exp16 + 64
    if biased > 127:
        raise OverflowError("exponent too large")
    if biased < 0:
        return bytes(size)  # underflow to zero
    return bytes([sign | biased]) + mant.to_bytes(size - 1, "big")


# ------------------------------------------------------------------------------- framing


def rdw(length: int) -> bytes:
    """Record (or block) descriptor word for ``length`` data bytes (the word's 4 included)."""
    total = length + 4
    if total > 0xFFFF:
        raise ValueError(f"record of {length} bytes is too long for an RDW")
    return total.to_bytes(2, "big") + b"\x00\x00"


def frame_records(
    records: Iterable[bytes],
    recfm: str = "FB",
    *,
    lrecl: int | None = None,
    block_size: int = 32760,
    pad: int = 0x40,
) -> bytes:
    """Frame records as a file of the given RECFM.

    F / FB: every record padded (with ``pad``) to ``lrecl`` (default: the longest record);
    a longer record raises ValueError. V: RDW before each record. VB: records with RDWs packed
    into blocks of at most ``block_size`` bytes, each block led by its BDW.
    """
    recfm = recfm.upper()
    recs = [bytes(r) for r in records]
    if recfm in ("F", "FB"):
        width = lrecl if lrecl is not None else max((len(r) for r in recs), default=0)
        out = bytearray()
        for i, r in enumerate(recs):
            if len(r) > width:
                raise ValueError(f"record {i} has {len(r)} bytes, LRECL is {width}")
            out += r + bytes([pad]) * (width - len(r))
        return bytes(out)
    if recfm == "V":
        return b"".join(rdw(len(r)) + r for r in recs)
    if recfm == "VB":
        out = bytearray()
        block = bytearray()
        for i, r in enumerate(recs):
            item = rdw(len(r)) + r
            if len(item) + 4 > block_size:
                raise ValueError(
                    f"record {i} ({len(r)} bytes) does not fit a block of {block_size}"
                )
            if block and len(block) + len(item) + 4 > block_size:
                out += rdw(len(block)) + block
                block = bytearray()
            block += item
        if block:
            out += rdw(len(block)) + block
        return bytes(out)
    raise ValueError(f"unknown RECFM {recfm!r} (F, FB, V or VB)")


def _national(f: Field, value) -> bytes:
    """USAGE NATIONAL: UTF-16BE, padded with national spaces (U+0020)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"field {f.column}: national field takes str, not {type(value).__name__}")
    raw = value.encode("utf-16-be")
    if len(raw) > f.size:
        raise ValueError(
            f"field {f.column}: value does not fit ({len(raw)} bytes, field holds {f.size})"
        )
    return raw + " ".encode("utf-16-be") * ((f.size - len(raw)) // 2)


_OVERPUNCH_NEG = "}JKLMNOPQR"


def edit_number(f: Field, n: int) -> str:
    """The printed form of ``n`` (in units of the picture's last digit) under the numeric-edited
    picture of ``f``: zero suppression (Z, *), floating + - $, fixed signs, CR / DB, insertion
    characters B 0 / , . -- as a COBOL MOVE to the field would edit it."""
    from ikou.mainframe.copybook.pictures import edited_layout, expand_picture

    pic = f.pic or ""
    classes, digits, _scale = edited_layout(pic)
    ds = str(abs(n)).rjust(digits, "0")
    if len(ds) > digits:
        raise ValueError(f"field {f.column}: value does not fit PICTURE {pic}")
    neg = n < 0
    star = "*" in pic
    fill = "*" if star else " "
    syms = [s for s in expand_picture(pic) if s not in ("V", "P", "S")]
    floating = {c for c in "+-$" if pic.count(c) > 1}
    out: list[str] = []
    k = 0
    significant = False
    float_slots: list[int] = []  # suppressed floating positions (the symbol goes in the last)
    for sym in syms:
        if sym in ("9", "Z", "*") or (sym in floating and sym in [x for x in syms[: len(out)]]):
            d = ds[k]
            k += 1
            significant = significant or d != "0" or sym == "9"
            if significant:
                out.append(d)
            elif sym in floating:
                float_slots.append(len(out))
                out.append(" ")
            else:
                out.append(fill if sym in ("*",) or star else " ")
        elif sym in floating:  # the leftmost symbol of a floating string
            float_slots.append(len(out))
            out.append(" ")
        elif sym == "+":
            out.append("-" if neg else "+")
        elif sym == "-":
            out.append("-" if neg else " ")
        elif sym in ("CR", "DB"):
            out.append(sym if neg else "  ")
        elif sym == ".":
            significant = significant or any(c in "9" for c in syms[syms.index(sym) :])
            out.append("." if significant else fill)
        elif sym in (",", "B", "0", "/"):
            ch = {"B": " "}.get(sym, sym)
            out.append(ch if significant or sym in ("0", "/") else fill)
        elif sym == "$":
            out.append("$")
        else:
            out.append(sym)
    if float_slots:
        symbol = next(iter(floating))
        mark = ("-" if neg else ("+" if symbol == "+" else " ")) if symbol in "+-" else "$"
        out[float_slots[-1]] = mark
    text = "".join(out)
    if "S" in pic and neg:  # overpunched last digit
        i = max(i for i, c in enumerate(text) if c.isdigit())
        text = text[:i] + _OVERPUNCH_NEG[int(text[i])] + text[i + 1 :]
    if f.blank_when_zero and n == 0:
        text = " " * len(text)
    return text
