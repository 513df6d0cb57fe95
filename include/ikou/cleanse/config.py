"""Cleansing configuration of one run: the rules per field and the city's context.

Which rules a field gets (first match wins):

1. the domain's ``cleanse.fields["FILE.FIELD"]`` (registry YAML),
2. the domain's ``cleanse.roles[role]``,
3. :data:`ikou.cleanse.rules.DEFAULT_RULES` by the field's role — what a new domain inherits.

The context holds what the rules need from the city: its town list and its 外字 table (from the
snapshot's reference data ``_reference/{snapshot}/``), the standard character set extended by the
外字 targets, and the domain's options (住民票コード rule, vendor-variant policy).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from ikou import identifiers as ids
from ikou.cleanse import rules as R
from ikou.cleanse.address import TownList

#: a check returns the problems of one value: [(finding rule, detail)], empty when fine
Check = Callable[[str], list[tuple[str, str]]]

_KANA_OK = frozenset(chr(c) for c in range(0x30A1, 0x30FB)) | set("ーヽヾ・　")

SEVERITY = {"vendor_variant": "info"}


def kana_problems(v: str) -> list[tuple[str, str]]:
    """A kana field (after ``kana_fullwidth``) holds full-width katakana, ー, ・ and 　 only."""
    bad = sorted({c for c in v if c not in _KANA_OK})
    return [("kana_invalid_char", f"U+{ord(c):04X}") for c in bad]


@dataclass
class CleanseContext:
    towns: TownList | None = None
    charset: object = None  # ikou.moji.standard.StandardCharset
    juminhyo_rule: str = "format"
    vendor_variants: str = "jis"
    roles: dict[str, dict] = field(default_factory=dict)
    fields: dict[str, dict] = field(default_factory=dict)
    gaiji_targets: int = 0

    def __post_init__(self):
        if self.charset is None:
            from ikou.moji.standard import StandardCharset, standard_charset

            self.charset = (
                standard_charset()
                if self.vendor_variants == "jis"
                else StandardCharset(vendor_variants=self.vendor_variants)
            )

    # -- configuration ------------------------------------------------------------------------
    def for_domain(self, domain) -> "CleanseContext":
        """This context with the domain's overrides and options (the registry's ``cleanse``)."""
        spec = getattr(domain, "cleanse", None)
        if spec is None:
            return self
        charset = self.charset
        if spec.vendor_variants != getattr(charset, "vendor_variants", "jis"):
            from ikou.moji.standard import StandardCharset

            charset = StandardCharset(
                getattr(charset, "extra", ()), vendor_variants=spec.vendor_variants
            )
        return CleanseContext(
            towns=self.towns,
            charset=charset,
            juminhyo_rule=spec.juminhyo_rule,
            vendor_variants=spec.vendor_variants,
            roles={k: v.model_dump() for k, v in spec.roles.items()},
            fields={k: v.model_dump() for k, v in spec.fields.items()},
            gaiji_targets=self.gaiji_targets,
        )

    def rules_for(self, file: str, field_name: str, role: str) -> dict:
        key = f"{file}.{field_name}"
        if key in self.fields:
            return R.rules_for(role, {role: self.fields[key]})
        return R.rules_for(role, self.roles)

    # -- rules and checks ---------------------------------------------------------------------
    @functools.cached_property
    def _address_canonical(self) -> Callable[[str], str]:
        if self.towns is None:
            return R.address_canonical
        return functools.partial(
            R.address_canonical,
            city=self.towns.city,
            wards=tuple(self.towns.wards),
            prefecture=self.towns.prefecture,
        )

    def value_rule(self, name: str) -> Callable[[str], str]:
        if name == "address_canonical":
            return self._address_canonical
        if name == "address_town":
            return self.towns.fold_town if self.towns is not None else (lambda v: v)
        try:
            return R.VALUE_RULES[name]
        except KeyError:
            raise ValueError(
                f"unknown cleansing rule {name!r}; known: {', '.join(sorted(R.KNOWN_RULES))}"
            ) from None

    def check(self, name: str) -> Check:
        if name == "standard_chars":
            return self.charset.problems
        if name == "kana_chars":
            return kana_problems
        if name == "juminhyo_code_format":
            rule = self.juminhyo_rule
            return _bool_check(name, lambda v: ids.is_valid_juminhyo_code(v, rule))
        if name == "address_components":
            raise ValueError("address_components is applied by the stage (it adds columns)")
        try:
            return _bool_check(name, R.CHECKS[name])
        except KeyError:
            raise ValueError(
                f"unknown cleansing check {name!r}; known: {', '.join(sorted(R.KNOWN_CHECKS))}"
            ) from None

    def may_change(self, name: str) -> str | None:
        """The Arrow (RE2) pattern of the values rule ``name`` could change, or None (any value):
        :data:`ikou.cleanse.rules.MAY_CHANGE`."""
        return R.MAY_CHANGE.get(name)

    def passes(self, name: str) -> Callable | None:
        """The array twin of check ``name`` (an Arrow string array -> numpy bool, True where the
        value passes), or None when the check has none (:data:`ikou.cleanse.rules.ARRAY_CHECKS`):
        the stage runs the scalar check only on the values that do not pass."""
        twin = R.ARRAY_CHECKS.get(name)
        if twin is not None and name == "juminhyo_code_format":
            return functools.partial(twin, rule=self.juminhyo_rule)
        return twin


def _bool_check(name: str, fn: Callable[[str], bool]) -> Check:
    problem = [(name, "check failed; value not changed")]

    def check(v: str) -> list[tuple[str, str]]:
        return [] if fn(v) else problem

    return check


def load_context(reference, store=None, domain=None) -> CleanseContext:
    """The context of a snapshot's reference data: ``reference`` is the ``_reference/{snapshot}/``
    prefix (``s3://…`` or a folder) holding ``towns.csv`` and ``gaiji.csv``; either may be missing
    (then no town check, and the standard set without 外字 targets)."""
    from ikou.moji.gaiji import GaijiTable
    from ikou.moji.standard import StandardCharset
    from ikou.storage import Store, join

    store = store or Store()
    ref = str(reference)

    def read(name: str) -> str | None:
        uri = join(ref, name)
        try:
            if not store.exists(uri):
                return None
            return store.get_bytes(uri).decode("utf-8")
        except FileNotFoundError:
            return None

    towns_text, gaiji_text = read("towns.csv"), read("gaiji.csv")
    towns = TownList.parse(towns_text) if towns_text else None
    vendor = domain.cleanse.vendor_variants if domain is not None else "jis"
    targets = []
    if gaiji_text:
        targets = [
            e.text for e in GaijiTable.parse(gaiji_text, source=join(ref, "gaiji.csv")).entries()
        ]
    charset = StandardCharset(targets, vendor_variants=vendor)
    ctx = CleanseContext(towns=towns, charset=charset, gaiji_targets=len(set(targets)))
    return ctx.for_domain(domain) if domain is not None else ctx


def default_context() -> CleanseContext:
    return CleanseContext()


__all__ = ["CleanseContext", "load_context", "default_context", "kana_problems"]
