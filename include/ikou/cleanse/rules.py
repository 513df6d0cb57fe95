"""Cleansing rules (データ整理) and which fields get them: configuration by field role.

A domain's legacy fields carry a *role* in the registry (``name``, ``name_kana``, ``address`` …);
:data:`DEFAULT_RULES` says which rules each role gets, and a domain inherits them. Rules are plain
functions on one value that return the cleansed value (or the same value) — they never see the
record — plus *checks* that only report. Every change is recorded in the ledger by the stage.

Names (氏名) get no rule that changes them: old forms and variant glyphs (旧字, 異体字) are legally
significant, and any Unicode normalisation (NFKC, even NFC) would rewrite them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from ikou import identifiers as ids
from ikou import rulebook

# -- value rules (return a possibly changed value) ---------------------------------------------

_FW_ASCII = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FW_ASCII["　"] = " "
_TO_FW_DIGIT = str.maketrans("0123456789", "０１２３４５６７８９")


_FW_ASCII_TABLE = str.maketrans(_FW_ASCII)


def to_halfwidth_ascii(v: str) -> str:
    """Full-width digits, letters and symbols → half-width (numeric and code fields)."""
    return v.translate(_FW_ASCII_TABLE)


def kana_fullwidth(v: str) -> str:
    """Half-width katakana → full-width, voiced marks composed (ｶﾞ → ガ), hiragana → katakana,
    spaces → one full-width space. Only for kana fields (氏名カナ): never for names."""
    s = unicodedata.normalize("NFKC", v)  # safe here: a kana field holds kana, spaces, ー only
    s = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in s)
    s = re.sub(r"[ 　]+", "　", s.strip())
    return s


_KANJI_NUM = {
    "〇": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def kanji_to_int(s: str) -> int | None:
    """漢数字 up to 9999 (一, 十二, 二十, 百五, 千二百三十四, 一二三 digit by digit)."""
    if not s:
        return None
    if all(c in _KANJI_NUM for c in s):
        return int("".join(str(_KANJI_NUM[c]) for c in s))
    total, cur = 0, 0
    units = {"十": 10, "百": 100, "千": 1000}
    for c in s:
        if c in _KANJI_NUM:
            cur = _KANJI_NUM[c]
        elif c in units:
            total += (cur or 1) * units[c]
            cur = 0
        else:
            return None
    return total + cur


_NUM = r"[0-9０-９〇一二三四五六七八九十百千]+"
_SEP = r"(?:丁目|番地|番|号|の|ノ|[-－‐―−ｰー])"
_ADDR_TAIL = re.compile(
    rf"(?P<chome>{_NUM})(?P<s1>丁目|[-－‐―−ｰー]|の|ノ)(?P<ban>{_NUM})(?P<s2>番地|番|[-－‐―−ｰー]|の|ノ)"
    rf"(?P<go>{_NUM})(?P<s3>号)?(?P<rest>.*)$"
)


def _n(s: str) -> int | None:
    t = to_halfwidth_ascii(s)
    if t.isdigit():
        return int(t)
    return kanji_to_int(s)


_WARDS = ("中央区", "北区", "東区", "西区", "南区")


def address_canonical(
    v: str, city: str = "架空市", wards: tuple[str, ...] = _WARDS, prefecture: str = "架空県"
) -> str:
    """Numbering of an address in one form: ``…町１丁目２番３号`` (full-width digits).

    Recognises 6丁目4番4号 / 6-4-4 / 六ノ四ノ四 / 6丁目4番地4 / full-width and kanji digits and
    hyphen variants; puts back a missing city name when the text starts at a ward of the city, and
    drops the prefecture before the city's own name. ``city``, ``wards`` and ``prefecture`` come
    from the city's town list in the cleanse stage (defaults: the synthetic 架空県架空市).
    Anything it does not recognise is returned unchanged (the address check reports it).
    """
    s = v.strip()
    m = _ADDR_TAIL.search(s)
    if m:
        chome, ban, go = _n(m.group("chome")), _n(m.group("ban")), _n(m.group("go"))
        if None not in (chome, ban, go):
            head = s[: m.start()]
            rest = m.group("rest").strip().replace(" ", "　")
            s = (
                head
                + f"{chome}丁目{ban}番{go}号".translate(_TO_FW_DIGIT)
                + (("　" + rest.lstrip("　")) if rest else "")
            )
    for ward in wards:
        if s.startswith(ward):
            s = city + s
            break
    if s.startswith(prefecture + city):
        s = s[len(prefecture) :]
    return s


def postal_halfwidth(v: str) -> str:
    return to_halfwidth_ascii(v).replace("-", "")


VALUE_RULES: dict[str, Callable[[str], str]] = {
    "halfwidth_ascii": to_halfwidth_ascii,
    "kana_fullwidth": kana_fullwidth,
    "address_canonical": address_canonical,
    "postal_halfwidth": postal_halfwidth,
}

#: The values a value rule could change, as an Arrow (RE2) pattern: the stage runs the rule only on
#: the distinct values that match it (any other value comes out of the rule unchanged), so a
#: field of unique codes costs no Python per record. A rule without a pattern runs on every
#: distinct value. Full-width ASCII (U+FF01..U+FF5E) and the ideographic space are what
#: ``to_halfwidth_ascii`` translates; ``postal_halfwidth`` drops hyphens too.
MAY_CHANGE: dict[str, str] = {
    "halfwidth_ascii": "[\uff01-\uff5e\u3000]",
    "postal_halfwidth": "[\uff01-\uff5e\u3000-]",
}

# -- checks (report only) -----------------------------------------------------------------------

CHECKS: dict[str, Callable[[str], bool]] = {
    "my_number_check_digit": lambda v: (
        ids.is_valid_my_number(v) or ids.is_valid_corporate_number(v)
    ),
    "corporate_number_check_digit": ids.is_valid_corporate_number,
    "juminhyo_code_format": lambda v: ids.is_valid_juminhyo_code(v, "format"),
    "postal_code_format": ids.is_valid_postal_code,
    "phone_format": ids.is_valid_phone,
}

#: The array twins of :data:`CHECKS`: which values of an Arrow string array pass (a numpy bool
#: array), a column at a time; the stage runs the scalar check on the others only (for their
#: findings). Each twin reads the same definition as its check (:mod:`ikou.identifiers`).
ARRAY_CHECKS: dict[str, Callable] = {
    "my_number_check_digit": lambda a: (
        ids.valid_array(a, "my_number") | ids.valid_array(a, "corporate_number")
    ),
    "corporate_number_check_digit": lambda a: ids.valid_array(a, "corporate_number"),
    "juminhyo_code_format": lambda a, rule="format": ids.valid_array(a, f"juminhyo:{rule}"),
    "postal_code_format": ids.postal_code_valid_array,
    "phone_format": ids.phone_valid_array,
}

#: Rules and checks that need the city's context (``ikou.cleanse.config.CleanseContext``): the town
#: list, the standard character set with the city's 外字 targets, the 住民票コード rule. The names
#: are listed once, in :mod:`ikou.rulebook` (the registry validates against them).
CONTEXT_RULES = rulebook.CONTEXT_RULES
CONTEXT_CHECKS = rulebook.CONTEXT_CHECKS
KNOWN_RULES = rulebook.KNOWN_RULES
KNOWN_CHECKS = rulebook.KNOWN_CHECKS

# -- configuration: which role gets which rules --------------------------------------------------
#
# ``standard_chars`` (every text field): characters outside the standard set are findings with
# their code point; ``kana_chars``: a kana field holds katakana only after ``kana_fullwidth``;
# ``address_components``: the address split into components (extra columns) and checked against
# the town list. Names get checks only: no rule ever changes a name.

_TEXT = "standard_chars"
DEFAULT_RULES: dict[str, dict] = {
    "name": {"rules": [], "checks": [_TEXT]},  # never changed
    "head_name": {"rules": [], "checks": [_TEXT]},
    "name_kana": {"rules": ["kana_fullwidth"], "checks": [_TEXT, "kana_chars"]},
    "address": {
        "rules": ["address_canonical", "address_town"],
        "checks": [_TEXT, "address_components"],
    },
    "honseki": {
        "rules": ["address_canonical", "address_town"],
        "checks": [_TEXT, "address_components"],
    },
    "location": {"rules": ["address_town"], "checks": [_TEXT, "address_components"]},
    "plate": {"rules": [], "checks": [_TEXT]},
    "postal_code": {"rules": ["postal_halfwidth"], "checks": [_TEXT, "postal_code_format"]},
    "phone": {"rules": ["halfwidth_ascii"], "checks": [_TEXT, "phone_format"]},
    "my_number": {"rules": ["halfwidth_ascii"], "checks": [_TEXT, "my_number_check_digit"]},
    "corporate_number": {
        "rules": ["halfwidth_ascii"],
        "checks": [_TEXT, "corporate_number_check_digit"],
    },
    "juminhyo_code": {"rules": ["halfwidth_ascii"], "checks": [_TEXT, "juminhyo_code_format"]},
    "pension_number": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "code": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "relationship": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "sex": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "addressee_kind": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "resident_kind": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "school_code": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "facility_code": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "district_code": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
    "flags": {"rules": ["halfwidth_ascii"], "checks": [_TEXT]},
}

#: Roles whose values are dates: how the cleanse stage reads them into a date + precision.
DATE_ROLES = {
    "birth_wareki": "wareki",
    "birth_wareki_partial": "wareki",
    "since_wareki": "wareki",
    "registered_date": "ymd",
    "updated_date": "ymd",
    "optional_date": "ymd_optional",
}


def rules_for(role: str, overrides: dict[str, dict] | None = None) -> dict:
    """The rules a field of ``role`` gets: the domain's override, else the default (a copy)."""
    if overrides and role in overrides:
        cfg = overrides[role]
    else:
        cfg = DEFAULT_RULES.get(role, {"rules": [], "checks": []})
    return {"rules": list(cfg.get("rules", [])), "checks": list(cfg.get("checks", []))}


def unknown_names(cfg: dict) -> list[str]:
    """Rule and check names of a rule set that do not exist (for configuration validation)."""
    return [r for r in cfg.get("rules", []) if r not in KNOWN_RULES] + [
        c for c in cfg.get("checks", []) if c not in KNOWN_CHECKS
    ]
