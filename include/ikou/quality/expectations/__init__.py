"""Ikou's custom Great Expectations (GX Core 1.x) expectations.

Importing this module registers them with GX (GX registers an expectation class when it is
defined); :func:`ikou.quality.gate.context` imports it before it loads the suites, and the GX
project's ``plugins/ikou_expectations.py`` imports it too, so a plain ``gx.get_context()`` on
``great_expectations/gx`` finds them.

Column map expectations (each row yes/no, ``mostly`` threshold, unexpected *counts* only —
Ikou runs every checkpoint with ``BASIC`` and ``partial_unexpected_count: 0``):

==================================================  =====================================================
``expect_column_values_to_be_valid_my_number``      個人番号: 12 digits with the check digit of 総務省令第85号
                                                    (``allow_corporate_number``: or a 13-digit 法人番号, as in
                                                    the 宛名 master where corporations hold one)
``expect_column_values_to_be_valid_corporate_number``  法人番号: 13 digits, leading check digit
``expect_column_values_to_be_valid_juminhyo_code``  住民票コード: 11 digits (``rule``: ``format`` — the real check
                                                    digit formula is not confirmed, see ikou.identifiers)
``expect_column_values_to_be_in_standard_charset``  text only in the standard character set (``ikou.moji.standard``
                                                    with the city's 外字 targets; without that module JIS X 0213
                                                    via ``euc_jis_2004``, IVS allowed)
``expect_column_values_to_be_kana``                 kana-only fields (``width``: full / half / any)
``expect_column_values_to_be_within_era_range``     dates within an era's range: era code + YYMMDD (``era_code``),
                                                    YYYYMMDD numbers (``ymd``) or dates (``date``), from 明治 to
                                                    ``latest`` (the snapshot)
``expect_column_values_to_be_in_code_list``         code values in a versioned code list (layout code lists and
                                                    the copybooks' 88-levels), named by ``code_list``
``expect_column_values_to_have_no_unmapped_gaiji``  no 〓 (extract's placeholder) / U+FFFD left by unmapped 外字
``expect_column_values_to_exist_in_addressee_master``  referential integrity: every 宛名番号 exists in the addressee
                                                    (宛名) master of the same snapshot (residents, 住登外者,
                                                    corporations). Pandas: the master's ids registered by the
                                                    gate (:func:`register_reference_set`); SQL: a sub-query in
                                                    the database (nothing is pulled)
==================================================  =====================================================

and one batch expectation, ``expect_column_to_have_layout_type`` (the column's physical type
matches the standard layout's type), evaluated from the table's column types (pandas dtypes, or
the database's reflected types).

Pandas implementations are vectorised (pyarrow compute, numpy): check digits on the digits'
bytes, characters per distinct *character* (only rows holding a suspicious one are looked at
closely), dates per distinct value (a city's 1.7M 宛名 records hold some 40,000 birth dates); at
a million rows a gate's suites take seconds (``python -m ikou_dev.bench gates``). The SQL
implementations (``gate_target``) are SQL expressions evaluated inside the database. No
implementation raises with a value from the data in its message.
"""

from __future__ import annotations

from ikou.quality.expectations.characters import (
    ExpectColumnValuesToBeInStandardCharset,
    ExpectColumnValuesToBeKana,
    ExpectColumnValuesToHaveNoUnmappedGaiji,
    forget_city_characters,
    in_standard_charset,
    is_unmapped_gaiji,
    register_city_characters,
    standard_charset,
)
from ikou.quality.expectations.codes import ExpectColumnValuesToBeInCodeList
from ikou.quality.expectations.dates import ExpectColumnValuesToBeWithinEraRange, era_code_ok
from ikou.quality.expectations.identifiers import (
    ExpectColumnValuesToBeValidCorporateNumber,
    ExpectColumnValuesToBeValidJuminhyoCode,
    ExpectColumnValuesToBeValidMyNumber,
    corporate_number_ok,
    juminhyo_code_ok,
    my_number_ok,
)
from ikou.quality.expectations.layout import ExpectColumnToHaveLayoutType
from ikou.quality.expectations.references import (
    ExpectColumnValuesToExistInAddresseeMaster,
    forget_reference_sets,
    register_reference_set,
)

CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeValidMyNumber,
    ExpectColumnValuesToBeValidCorporateNumber,
    ExpectColumnValuesToBeValidJuminhyoCode,
    ExpectColumnValuesToBeInStandardCharset,
    ExpectColumnValuesToHaveNoUnmappedGaiji,
    ExpectColumnValuesToBeKana,
    ExpectColumnValuesToBeWithinEraRange,
    ExpectColumnValuesToBeInCodeList,
    ExpectColumnValuesToExistInAddresseeMaster,
    ExpectColumnToHaveLayoutType,
)

__all__ = [c.__name__ for c in CUSTOM_EXPECTATIONS] + [
    "register_reference_set",
    "forget_reference_sets",
    "standard_charset",
    "in_standard_charset",
    "register_city_characters",
    "forget_city_characters",
    "is_unmapped_gaiji",
    "my_number_ok",
    "corporate_number_ok",
    "juminhyo_code_ok",
    "era_code_ok",
]
