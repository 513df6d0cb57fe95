"""The personal-data search of the leak tests (tests_support.PersonalDataSearch and its needles):
every kind of personal data the synthetic city holds, in every form, is found in a fake log; the
forms that are not personal data (a given name alone, a number inside a longer one or a hash) are
not."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from tests_support import (
    CITY_KINDS,
    PersonalDataSearch,
    city_needles,
    date_forms,
    field_needles,
    phone_forms,
    postal_forms,
)

RESIDENTS, SEED, SNAPSHOT = 120, 31, "2026-06-01"
KINDS = CITY_KINDS


@pytest.fixture(scope="module")
def pop():
    from ikou_dev.synth.population import build

    return build(RESIDENTS, SEED, dt.date.fromisoformat(SNAPSHOT))


@pytest.fixture(scope="module")
def needles():
    return city_needles(RESIDENTS, SEED, SNAPSHOT, public_dates=[SNAPSHOT])


def _person(pop, test):
    return next(p for p in pop.people if p.kind != "3" and test(p))


def _found(needles, text: str) -> set[str]:
    s = PersonalDataSearch(needles)
    s.search("fake log", text)
    return {kind for _, kind, _ in s.hits}


def test_the_city_gives_needles_of_every_kind(needles):
    assert set(needles.values()) == KINDS


def test_a_planted_value_of_each_kind_is_found(pop, needles):
    p = _person(pop, lambda p: p.phone and p.birth and p.juminhyo_code and p.address.town)
    planted = {
        "name": f"INFO merged {p.name} into cluster 7",
        "kana": f"kana={p.kana.replace('　', '')};",
        "address": f"address: {p.address.variant(1)}",
        "birth_date": f"birth_date={p.birth.strftime('%Y%m%d')},",
        "phone": f"tel:{p.phone}",
        "postal_code": f"〒{p.address.town.postal_code[:3]}-{p.address.town.postal_code[3:]}",
        "atena_no": f"ATENA-NO {p.atena_no} failed",
        "my_number": f'"KOJIN-NO": "{p.my_number}"',
        "juminhyo_code": f"code {p.juminhyo_code}.",
    }
    for kind, line in planted.items():
        assert _found(needles, line) == {kind}, (kind, line)
    # and all at once, as one log would hold them
    assert _found(needles, "\n".join(planted.values())) == KINDS


@pytest.mark.parametrize(
    "form",
    [
        lambda d: d.isoformat(),
        lambda d: f"{d:%Y%m%d}",
        lambda d: f"{d.year}/{d.month}/{d.day}",
        lambda d: f"{d.year}年{d.month}月{d.day}日",
        lambda d: f"{d.isoformat()}T00:00:00",  # a pandas Timestamp as printed
    ],
    ids=["iso", "yyyymmdd", "slashes", "seireki", "timestamp"],
)
def test_a_birth_date_is_found_in_western_forms(pop, needles, form):
    p = _person(pop, lambda p: p.birth and p.birth.isoformat() != SNAPSHOT)
    assert _found(needles, f"value {form(p.birth)} rejected") == {"birth_date"}


def test_a_birth_date_is_found_in_every_wareki_form(needles):
    # the legacy forms of one date of each era with a 元年 (R01.05.01 = 2019-05-01 …)
    d = dt.date(2019, 5, 1)
    forms = date_forms(d)
    for text in (
        "R01.05.01",
        "R1.5.1",
        "令和元年5月1日",
        "令和1年5月1日",
        "令和01年05月01日",
        "5010501",
    ):
        assert text in forms, text
    d = dt.date(1989, 1, 8)
    for text in ("H01.01.08", "平成元年1月8日", "平成１年１月８日", "4010108", "H010108"):
        assert text in date_forms(d), text
    s = PersonalDataSearch({f: "birth_date" for f in forms})
    s.search("log", "生年月日 令和元年5月1日 / R01.05.01 / era code 5010501")
    assert [h[2] for h in s.hits] == ["令和元年5月1日", "R01.05.01", "5010501"]


def test_phone_and_postal_forms():
    assert {
        "03-1234-5678",
        "0312345678",
        "03(1234)5678",
        "０３－１２３４－５６７８",
    } <= phone_forms("03-1234-5678")
    assert {"〒000-1002", "000-1002", "0001002"} <= postal_forms("0001002")
    needles = {f: "phone" for f in phone_forms("035-920-7640")}
    needles |= {f: "postal_code" for f in postal_forms("0001002")}
    for text in ("TEL 0359207640", "(035)920-7640", "〒0001002 架空市", "zip=000-1002"):
        assert _found(needles, text), text


def test_a_name_of_any_length_without_false_positives(pop, needles):
    """A one-character surname with a one-character given name is searched as the full name;
    the given name alone (a common character) is not a needle and is not found."""
    short = _person(pop, lambda p: len(p.name.replace("　", "")) <= 3)
    surname, given = short.name.split("　")
    assert short.name.replace("　", "") in needles
    assert given not in needles and surname not in needles
    assert _found(needles, f"{surname}{given}") == {"name"}
    assert _found(needles, f"{given}は{surname}さんの名前の一部です") == set()
    # half-width kana of the same person, as the legacy files write it
    from ikou_dev.synth.city import to_halfwidth_kana

    assert _found(needles, to_halfwidth_kana(short.kana.replace("　", " "))) == {"kana"}


def test_numbers_match_only_as_whole_numbers(pop, needles):
    p = _person(pop, lambda p: p.juminhyo_code)
    number = p.my_number
    assert _found(needles, f"9{number}9 and 12{number}") == set()
    assert _found(needles, f"sha256 ab{number}cd") == set()  # inside a hex hash
    assert _found(needles, f"[{number}]") == {"my_number"}
    # a 宛名番号 printed as an integer (no leading zeros) is found too
    q = _person(pop, lambda p: p.atena_no.startswith("0") and len(p.atena_no.lstrip("0")) >= 6)
    assert _found(needles, f"atena {int(q.atena_no)} merged") == {"atena_no"}


def test_public_dates_are_not_needles(needles):
    assert not set(date_forms(dt.date.fromisoformat(SNAPSHOT))) & {
        n for n, k in needles.items() if k == "birth_date"
    }


def test_field_needles_cover_every_personal_field_of_a_domain(s3_endpoint):
    """基礎年金番号 (kokumin_nenkin's KISO-NENKIN-NO) and the 宛名番号 it refers to, read from a
    Parquet file in the restricted zone, become needles; a code field does not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ikou.storage import Store

    table = pa.table(
        {
            "KISO-NENKIN-NO": pa.array([1234567890, 2000001234], pa.int64()),
            "ATENA-NO": pa.array([12345678, 987654321], pa.int64()),
            "HIHOKENSHA-SHUBETSU": pa.array(["1", "2"]),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    store = Store()
    uri = "s3://ikou-restricted/raw/kokumin_nenkin/unit_pii/NENKIN.parquet"
    store.put_bytes(uri, buf.getvalue())
    try:
        found = field_needles(store, ["kokumin_nenkin"])
    finally:
        store.delete_prefix("s3://ikou-restricted/raw/kokumin_nenkin/unit_pii/")
    assert found["1234567890"] == "pension_number" and found["2000001234"] == "pension_number"
    assert found["0012345678"] == "atena_no" and found["12345678"] == "atena_no"
    assert "1" not in found and "2" not in found
    s = PersonalDataSearch(found)
    s.search("log", "pension no. 1234567890 of atena 0012345678")
    assert [h[1] for h in s.hits] == ["pension_number", "atena_no"]
