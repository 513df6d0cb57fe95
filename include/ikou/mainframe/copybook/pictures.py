"""PICTURE strings and USAGE -> kind, digits, scale, sign and byte size of a field."""

from __future__ import annotations

import math
import re

from ikou.mainframe.copybook.model import CopybookError, Item

# ------------------------------------------------------------------------------- pictures

_PIC_TOKEN = re.compile(r"(CR|DB|[A-Z0-9$*+\-.,/])(\((\d+)\))?")
_EDIT_CHARS = set("Z*+-.,B0/$E") | {"CR", "DB"}


def expand_picture(pic: str) -> list[str]:
    """The picture's symbols one per position (CR / DB one symbol), repeat counts expanded."""
    chars: list[str] = []
    pos = 0
    while pos < len(pic):
        m = _PIC_TOKEN.match(pic, pos)
        if not m:
            raise ValueError(f"invalid character {pic[pos]!r} in PICTURE {pic}")
        chars.extend([m.group(1)] * (int(m.group(3)) if m.group(2) else 1))
        pos = m.end()
    return chars


def edited_layout(pic: str, decimal_comma: bool = False) -> tuple[list[str], int, int]:
    """Positions of a numeric-edited picture: (classes, digits, scale).

    One class per byte: ``d`` digit (9), ``o`` the last digit of a picture with S (a digit
    or an overpunched sign: ``{ A-I`` +0..+9, ``} J-R`` -0..-9), ``z`` suppressible digit (Z, *), ``f`` floating
    insertion position that holds a digit, a space or the symbol (+ - $ repeated), ``s`` a
    sign (+ -, CR, DB; also the leftmost symbol of a floating string), ``i`` insertion (B 0 /
    , . and a single currency sign). ``decimal_comma``: DECIMAL-POINT IS COMMA (``,`` is the
    point and ``.`` the grouping symbol).
    """
    chars = expand_picture(pic)
    point = "," if decimal_comma else "."
    counts = {c: chars.count(c) for c in ("+", "-", "$")}
    floating_seen: set[str] = set()
    classes: list[str] = []
    digits = right = leading_p = trailing_p = 0
    seen_point = False
    for c in chars:
        if c in ("9", "Z", "*") or (c in counts and counts[c] > 1 and c in floating_seen):
            classes.append("d" if c == "9" else ("z" if c in "Z*" else "f"))
            digits += 1
            if seen_point:
                right += 1
        elif c in ("+", "-") or (c == "$" and counts[c] > 1):
            floating_seen.add(c)
            classes.append("s" if c != "$" else "i")
        elif c in ("CR", "DB"):
            classes.extend(["s", "s"])
        elif c == point:
            classes.append("i")
            seen_point = True
        elif c in ("B", "0", "/", ",", ".", "$"):
            classes.append("i")
        elif c == "V":
            seen_point = True
        elif c == "P":
            if digits == 0:
                leading_p += 1
            else:
                trailing_p += 1
        elif c == "S":
            continue
        else:
            raise ValueError(f"symbol {c!r} is not supported in numeric-edited PICTURE {pic}")
    if "S" in chars and "d" in classes:  # S in an edited picture: the last digit is overpunched
        last = len(classes) - 1 - classes[::-1].index("d")
        classes[last] = "o"
    scale = right + leading_p - trailing_p if (seen_point or leading_p) else -trailing_p
    return classes, digits, scale


def analyse_pic(
    item: Item,
    source: str,
    *,
    nsymbol: str = "dbcs",
    decimal_comma: bool = False,
    warnings: list | None = None,
) -> None:
    """Fill kind/digits/scale/signed/size for an elementary item from PIC and usage.

    ``nsymbol``: "dbcs" (PIC N without USAGE is host DBCS, as PIC G) or "national" (PIC N is
    UTF-16BE, as USAGE NATIONAL always is). ``warnings`` collects one-line notes naming the line.
    """
    usage = item.eff_usage

    def perr(msg: str, idx: int = 0) -> CopybookError:
        return CopybookError(
            msg,
            source,
            item.pic_line or item.line,
            (item.pic_col + idx) if item.pic_col else item.column,
        )

    if usage in ("comp-1", "comp-2"):
        if item.pic is not None:
            raise perr(f"USAGE {usage.upper()} takes no PICTURE")
        item.kind = "float"
        item.size = 4 if usage == "comp-1" else 8
        item.signed = True
        return
    if usage in ("index", "pointer"):
        item.kind, item.size, item.digits, item.signed = "binary", 4, 9, usage == "index"
        return
    pic = item.pic
    if pic is None:
        raise CopybookError(
            f"elementary item {item.name} has no PICTURE", source, item.line, item.column
        )
    chars: list[str] = []
    pos = 0
    while pos < len(pic):
        m = _PIC_TOKEN.match(pic, pos)
        if not m:
            raise perr(f"invalid character {pic[pos]!r} in PICTURE {pic}", pos)
        sym = m.group(1)
        count = 1
        if m.group(2):
            count = int(m.group(3))
            if count < 1:
                raise perr(f"repeat count must be at least 1 in PICTURE {pic}", m.start(2))
        elif pos < len(pic) and m.end() < len(pic) and pic[m.end()] == "(":
            raise perr(f"malformed repeat count in PICTURE {pic}", m.end())
        if count > 1_000_000:
            raise perr(f"repeat count too large in PICTURE {pic}", m.start(2))
        chars.extend([sym] * count)
        pos = m.end()
    if "(" in pic and not re.fullmatch(r"(?:(?:CR|DB|[A-Z0-9$*+\-.,/])(?:\(\d+\))?)+", pic):
        raise perr(f"malformed repeat count in PICTURE {pic}", pic.index("("))
    syms = set(chars)
    if syms <= {"N"} or syms <= {"G"}:
        if usage not in ("display", "display-1", "national"):
            raise perr(f"PICTURE {pic} (DBCS) cannot have USAGE {item.usage_word or usage.upper()}")
        national = "N" in syms and (
            usage == "national" or (usage == "display" and nsymbol == "national")
        )
        item.kind = "national" if national else "dbcs"
        item.size = 2 * len(chars)
        return
    if "N" in syms or "G" in syms:
        raise perr(f"PICTURE {pic} mixes DBCS (N/G) with other symbols")
    if usage == "national":
        raise perr(f"USAGE NATIONAL is supported with PICTURE N only, not {pic}")
    if syms & {"X", "A"}:
        if not syms <= {"X", "A", "9", "B", "0", "/"}:
            raise perr(f"PICTURE {pic}: alphanumeric picture with numeric symbols")
        if usage not in ("display",):
            raise perr(
                f"alphanumeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        item.kind = "alphanumeric"
        item.edited = bool(syms & {"B", "0", "/"})
        item.size = len(chars)
        return
    if syms <= {"9", "S", "V", "P"}:
        if "9" not in syms:
            raise perr(f"PICTURE {pic} has no digit positions")
        if chars.count("S") > 1 or ("S" in syms and chars[0] != "S"):
            raise perr(
                f"S must appear once, at the start of PICTURE {pic}",
                pic.find("S", 1) if chars[0] == "S" else pic.find("S"),
            )
        if chars.count("V") > 1:
            raise perr(f"V appears more than once in PICTURE {pic}", pic.rfind("V"))
        signed = "S" in syms
        body = [c for c in chars if c != "S"]
        digits = body.count("9")
        # decimal point: at V; else before leading P's; else at the end
        if "V" in body:
            vpos = body.index("V")
            positions_right = sum(1 for c in body[vpos + 1 :] if c in "9P")
        elif body[0] == "P":
            positions_right = sum(1 for c in body if c in "9P")
        else:
            positions_right = 0
        positions = [c for c in body if c in "9P"]
        last9 = max(i for i, c in enumerate(positions) if c == "9")
        trailing_p = len(positions) - 1 - last9
        first9 = positions.index("9")
        if "P" in positions[first9 : last9 + 1]:
            raise perr(
                f"P must be at the left or right end of the digits in PICTURE {pic}", pic.find("P")
            )
        scale = positions_right - trailing_p
        if digits > 38:
            raise perr(f"PICTURE {pic} has {digits} digits; at most 38 are supported")
        item.digits, item.scale, item.signed = digits, scale, signed
        if usage in ("display",):
            item.kind = "zoned"
            if not signed and item.sign_separate:
                # SIGN ... SEPARATE written on a picture without S: the sign byte is there
                # (as Cobrix reads it); the field is read as signed
                signed = item.signed = True
                item.eff_sign = item.sign or "trailing"
                item.eff_separate = True
                if warnings is not None:
                    warnings.append(
                        f"{source}:{item.line}: {item.name} PICTURE {pic} has no S but SIGN "
                        f"{item.eff_sign.upper()} SEPARATE: sized with the sign byte"
                    )
            if signed:
                item.eff_sign = item.eff_sign or "trailing"
            else:
                item.eff_sign = None
                item.eff_separate = False
            item.size = digits + (1 if signed and item.eff_separate else 0)
        elif usage == "packed":
            item.kind = "packed"
            item.size = digits // 2 + 1
        elif usage in ("binary", "comp-5"):
            item.kind = "binary"
            item.size = binary_size(digits)
        else:
            raise perr(
                f"numeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        if usage != "display" and item.sign_separate:
            raise perr("SIGN SEPARATE applies only to USAGE DISPLAY")
        return
    # numeric-edited: a decimal with the picture's scale, read from its printed width
    if not syms <= (_EDIT_CHARS | {"9", "V", "S", "P"}):
        bad = sorted(syms - (_EDIT_CHARS | {"9", "V", "S", "P"}))[0]
        raise perr(f"invalid symbol {bad!r} in PICTURE {pic}", pic.find(bad))
    if usage != "display":
        raise perr(
            f"numeric-edited PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
        )
    item.edited = True
    item.size = sum(2 if c in ("CR", "DB") else 1 for c in chars if c not in ("V", "S", "P"))
    if "E" in syms:  # floating-point edited (+9.9E+99): kept as text
        item.kind = "alphanumeric"
        return
    try:
        classes, digits, scale = edited_layout(pic, decimal_comma)
    except ValueError as exc:
        raise perr(str(exc)) from None
    if digits == 0:
        raise perr(f"numeric-edited PICTURE {pic} has no digit positions")
    if digits > 38:
        raise perr(f"PICTURE {pic} has {digits} digits; at most 38 are supported")
    if len(classes) != item.size:  # pragma: no cover - both count the same positions
        raise perr(f"PICTURE {pic}: inconsistent edited positions")
    item.kind = "edited"
    item.digits, item.scale = digits, scale
    item.signed = bool(syms & {"+", "-", "CR", "DB", "S"})


def binary_size(digits: int) -> int:
    """Bytes of a binary (COMP / COMP-4 / COMP-5) item: 2 / 4 / 8 up to 18 digits (IBM), then
    the bytes that hold the digits and a sign, as Cobrix sizes them (19 digits: 9 bytes ...)."""
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    return math.ceil((math.log2(10) * digits + 1) / 8)
