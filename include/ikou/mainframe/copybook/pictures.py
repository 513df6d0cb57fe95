"""PICTURE strings and USAGE -> kind, digits, scale, sign and byte size of a field."""

from __future__ import annotations

import re

from ikou.mainframe.copybook.model import CopybookError, Item

# ------------------------------------------------------------------------------- pictures

_PIC_TOKEN = re.compile(r"(CR|DB|[A-Z0-9$*+\-.,/])(\((\d+)\))?")
_EDIT_CHARS = set("Z*+-.,B0/$E") | {"CR", "DB"}


def analyse_pic(item: Item, source: str) -> None:
    """Fill kind/digits/scale/signed/size for an elementary item from PIC and usage."""
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
        item.kind = "dbcs"
        item.size = 2 * len(chars)
        return
    if "N" in syms or "G" in syms:
        raise perr(f"PICTURE {pic} mixes DBCS (N/G) with other symbols")
    if syms & {"X", "A"}:
        if not syms <= {"X", "A", "9"}:
            raise perr(f"PICTURE {pic}: alphanumeric picture with numeric symbols")
        if usage not in ("display",):
            raise perr(
                f"alphanumeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        item.kind = "alphanumeric"
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
            if digits > 18:
                raise perr(f"binary PICTURE {pic} has {digits} digits; at most 18 fit")
            item.size = 2 if digits <= 4 else (4 if digits <= 9 else 8)
        else:
            raise perr(
                f"numeric PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
            )
        if usage != "display" and item.sign_separate:
            raise perr("SIGN SEPARATE applies only to USAGE DISPLAY")
        return
    # numeric-edited: read as text of its printed width
    if not syms <= (_EDIT_CHARS | {"9", "V", "S", "P"}):
        bad = sorted(syms - (_EDIT_CHARS | {"9", "V", "S", "P"}))[0]
        raise perr(f"invalid symbol {bad!r} in PICTURE {pic}", pic.find(bad))
    if usage != "display":
        raise perr(
            f"numeric-edited PICTURE {pic} cannot have USAGE {item.usage_word or usage.upper()}"
        )
    item.kind = "alphanumeric"
    item.edited = True
    item.size = sum(2 if c in ("CR", "DB") else 1 for c in chars if c not in ("V", "S", "P"))
