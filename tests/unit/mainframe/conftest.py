"""Shared helpers for the mainframe engine tests (all data synthetic)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "mainframe"


def fixed(*lines: str) -> str:
    """Copybook lines -> fixed format (sequence area, indicator column, code from column 8)."""
    out = []
    for i, line in enumerate(lines, 1):
        if line[:1] in ("*", "/", "-", "D"):
            out.append(f"{i:06d}{line}")
        else:
            out.append(f"{i:06d} {line}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def cp930():
    from ikou.moji.codepages import get_codepage

    return get_codepage("cp930")


@pytest.fixture(scope="session")
def juki_cb():
    from ikou.mainframe.copybook import parse_copybook

    return parse_copybook((DATA / "juki.cpy").read_text(encoding="utf-8"), source="juki.cpy")


# synthetic residents: invented names, numbers out of any real range
PEOPLE = [
    dict(
        ATENA="0000000001",
        KANJI="試験　一郎",
        KANA="ｼｹﾝ ｲﾁﾛｳ",
        ERA=4,
        YMD=520101,
        ADDR="見本市中央区一丁目1番1号",
        TAX=Decimal("12345.67"),
        BAL=-1200,
        HH=3,
    ),
    dict(
        ATENA="0000000002",
        KANJI="見本　花子",
        KANA="ﾐﾎﾝ ﾊﾅｺ",
        ERA=5,
        YMD=10315,
        ADDR="MIHON-SHI 2-3-4",
        TAX=Decimal("0.01"),
        BAL=0,
        HH=1,
    ),
    dict(
        ATENA="0000000003",
        KANJI="架空　太郎",
        KANA="ｶｸｳ ﾀﾛｳ",
        ERA=3,
        YMD=631231,
        ADDR="見本市東区ABC町",
        TAX=Decimal("-5.00"),
        BAL=9999999,
        HH=-2,
    ),
]


def juki_records(
    cb,
    cp,
    people=PEOPLE,
    *,
    trailer_count=None,
    trailer_total=None,
    header=True,
    trailer=True,
    mixed=("ADDRESS",),
):
    from ikou.mainframe.encode import encode_record

    recs = []
    if header:
        recs.append(
            encode_record(
                cb.record("JUKI-HDR"),
                {"HDR-TYPE": "H", "HDR-CITY-CODE": 999999, "HDR-CREATED": 20261128},
                cp,
            )
        )
    total = Decimal(0)
    for p in people:
        recs.append(
            encode_record(
                cb.record("JUKI-DATA"),
                {
                    "REC-TYPE": "D",
                    "ATENA-NO": int(p["ATENA"]),
                    "SHIMEI-KANJI": p["KANJI"],
                    "SHIMEI-KANA": p["KANA"],
                    "BIRTH-ERA": p["ERA"],
                    "BIRTH-YMD": p["YMD"],
                    "ADDRESS": p["ADDR"],
                    "TAX-AMOUNT": p["TAX"],
                    "BALANCE": p["BAL"],
                    "HOUSEHOLD-SIZE": p["HH"],
                },
                cp,
                mixed_fields=mixed,
            )
        )
        total += p["TAX"]
    if trailer:
        recs.append(
            encode_record(
                cb.record("JUKI-TRL"),
                {
                    "TRL-TYPE": "T",
                    "TRL-COUNT": len(people) if trailer_count is None else trailer_count,
                    "TRL-TAX-TOTAL": total if trailer_total is None else trailer_total,
                },
                cp,
            )
        )
    return recs


def juki_options(**kw):
    from ikou.mainframe.engine_options import DecodeOptions

    base = dict(
        encoding="cp930",
        recfm="FB",
        record_type_field="REC-TYPE",
        record_types={"H": "JUKI-HDR", "D": "JUKI-DATA", "T": "JUKI-TRL"},
        header_layouts=("JUKI-HDR",),
        trailer_layouts=("JUKI-TRL",),
        record_count_field="TRL-COUNT",
        control_totals={"TRL-TAX-TOTAL": "TAX-AMOUNT"},
        mixed_fields=("ADDRESS",),
    )
    base.update(kw)
    return DecodeOptions(**base)
