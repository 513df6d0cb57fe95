"""The names of the cleansing rules and checks: the one list the domain registry validates
against and the cleanse package implements (a primitive, so that validating a registry never
imports the cleanse capability).

A *value rule* rewrites a field's value (and records the change); a *check* reports without
changing anything. *Context* rules and checks need the city's context (town list, standard
character set with the city's 外字 targets, the 住民票コード rule); the others are plain
functions of one value. ``tests/unit/test_cleanse_rules.py`` checks that every name here has
exactly one implementation in :mod:`ikou.cleanse.rules`.
"""

from __future__ import annotations

VALUE_RULES = frozenset(
    {"halfwidth_ascii", "kana_fullwidth", "address_canonical", "postal_halfwidth"}
)
CONTEXT_RULES = frozenset({"address_town"})
VALUE_CHECKS = frozenset(
    {
        "my_number_check_digit",
        "corporate_number_check_digit",
        "juminhyo_code_format",
        "postal_code_format",
        "phone_format",
    }
)
CONTEXT_CHECKS = frozenset(
    {"standard_chars", "kana_chars", "address_components", "juminhyo_code_format"}
)
KNOWN_RULES = VALUE_RULES | CONTEXT_RULES
KNOWN_CHECKS = VALUE_CHECKS | CONTEXT_CHECKS
