"""The synthetic designated city: wards, towns, people, households, corporations.

Everything here is invented: a city called 架空市 (Kakū City) in 架空県, postal codes in the
unassigned 000 range, names drawn from common-name lists (Faker's ja_JP lists plus old / variant
forms that name records really use: 髙 齋 邊 澤 濱 廣 櫻 﨑), identifiers made with valid check
digits from random bodies. No real person, address or identifier is used.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field

import numpy as np

PREFECTURE = "架空県"
CITY = "架空市"
WARDS = ("中央区", "北区", "東区", "西区", "南区")
_TOWN_NAMES = (
    "桜町",
    "緑町",
    "旭町",
    "若葉町",
    "本町",
    "栄町",
    "松が丘",
    "梅ケ丘",
    "青葉台",
    "泉町",
    "錦町",
    "新町",
    "港町",
    "城山",
    "川端町",
    "柳町",
    "宮前",
    "東雲",
    "白鳥町",
    "朝日町",
    "富士見町",
    "中島町",
    "大通",
    "平和町",
    "寿町",
    "幸町",
    "末広町",
    "春日町",
    "元町",
    "曙町",
    "常盤町",
    "住吉町",
    "八幡町",
    "竹ノ塚",
    "月見台",
    "花園町",
    "日の出町",
    "霞ケ丘",
    "千歳町",
    "弥生町",
)
_TOWN_KANA = (
    "サクラマチ",
    "ミドリマチ",
    "アサヒマチ",
    "ワカバマチ",
    "ホンマチ",
    "サカエマチ",
    "マツガオカ",
    "ウメガオカ",
    "アオバダイ",
    "イズミマチ",
    "ニシキマチ",
    "シンマチ",
    "ミナトマチ",
    "シロヤマ",
    "カワバタマチ",
    "ヤナギマチ",
    "ミヤマエ",
    "シノノメ",
    "シラトリマチ",
    "アサヒマチ",
    "フジミマチ",
    "ナカジママチ",
    "オオドオリ",
    "ヘイワマチ",
    "コトブキマチ",
    "サイワイマチ",
    "スエヒロマチ",
    "カスガマチ",
    "モトマチ",
    "アケボノマチ",
    "トキワマチ",
    "スミヨシマチ",
    "ヤハタマチ",
    "タケノツカ",
    "ツキミダイ",
    "ハナゾノマチ",
    "ヒノデマチ",
    "カスミガオカ",
    "チトセマチ",
    "ヤヨイマチ",
)
_OTHER_CITIES = ("架空県東架空市", "架空県西浜町", "仮想県仮想市", "仮想県北仮想市", "見本県見本市")
_BUILDINGS = ("架空ハイツ", "コーポ桜", "メゾン緑", "グランド旭", "パークサイド泉", "サンライズ栄")
# Old and variant forms that name records hold (legally significant: never normalised).
_VARIANT_SURNAMES = (
    ("髙橋", "タカハシ"),
    ("齋藤", "サイトウ"),
    ("渡邊", "ワタナベ"),
    ("澤田", "サワダ"),
    ("濱田", "ハマダ"),
    ("廣瀬", "ヒロセ"),
    ("櫻井", "サクライ"),
    ("山﨑", "ヤマザキ"),
    ("邊見", "ヘンミ"),
    ("齊藤", "サイトウ"),
)
# Characters outside the mainframe code pages: the city keeps them in its 外字 table.
GAIJI_SURNAMES = (("𠮷田", "ヨシダ"), ("葛\U000e0100西", "カサイ"), ("辻\U000e0101本", "ツジモト"))
_CORP_STEMS = (
    "架空",
    "見本",
    "仮想",
    "サンプル",
    "テスト",
    "みほん",
    "ひな形",
    "雛形",
    "例示",
    "模擬",
)
_CORP_KINDS = (
    ("株式会社", "カブシキガイシャ", "prefix"),
    ("有限会社", "ユウゲンガイシャ", "prefix"),
    ("合同会社", "ゴウドウガイシャ", "suffix"),
)
_CORP_TRADES = (
    ("商事", "ショウジ"),
    ("建設", "ケンセツ"),
    ("運輸", "ウンユ"),
    ("食品", "ショクヒン"),
    ("工業", "コウギョウ"),
    ("不動産", "フドウサン"),
    ("電機", "デンキ"),
    ("印刷", "インサツ"),
)
_CORP_STEM_KANA = (
    "カクウ",
    "ミホン",
    "カソウ",
    "サンプル",
    "テスト",
    "ミホン",
    "ヒナガタ",
    "ヒナガタ",
    "レイジ",
    "モギ",
)


def _faker_lists():
    from faker.providers.person.ja_JP import Provider

    surnames = [(k, kana) for k, kana, _ in Provider.last_name_pairs]
    female = [(k, kana) for k, kana, _ in Provider.first_name_female_pairs]
    male = [(k, kana) for k, kana, _ in Provider.first_name_male_pairs]
    return surnames, female, male


_HALF = {}
for _cp in range(0xFF61, 0xFFA0):
    _ch = chr(_cp)
    _HALF[unicodedata.normalize("NFKC", _ch)] = _ch
for _base in "カキクケコサシスセソタチツテトハヒフヘホウ":
    _HALF[unicodedata.normalize("NFC", _base + "\u3099")] = _HALF[_base] + "ﾞ"
for _base in "ハヒフヘホ":
    _HALF[unicodedata.normalize("NFC", _base + "\u309a")] = _HALF[_base] + "ﾟ"
_HALF["　"] = " "
_HALF["ー"] = "ｰ"


def to_halfwidth_kana(text: str) -> str:
    """Full-width katakana → half-width (as the mainframe's SBCS kana fields hold them)."""
    return "".join(_HALF.get(c, c) for c in text)


# The hyphen a mainframe keyboard typed as a DBCS character is 0x4260, which decodes to U+2212
# (MINUS SIGN) in the JIS variant of cp930/939 (U+FF0D only in the JDK's IBM939).
_FW_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９−")
_KANJI_DIGITS = "〇一二三四五六七八九"


def fullwidth_digits(text: str) -> str:
    return text.translate(_FW_DIGITS)


def kanji_number(n: int) -> str:
    """1..99 as 漢数字 (十 style): 4 -> 四, 12 -> 十二, 40 -> 四十."""
    if n < 10:
        return _KANJI_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _KANJI_DIGITS[tens]) + "十" + (_KANJI_DIGITS[ones] if ones else "")


@dataclass(frozen=True)
class Town:
    ward: str
    name: str
    kana: str
    chome_max: int
    postal_code: str


def towns() -> list[Town]:
    """The city's town list (fixed: the same for every seed, shipped with the synth data)."""
    rng = np.random.default_rng(20240401)
    out = []
    for i, (name, kana) in enumerate(zip(_TOWN_NAMES, _TOWN_KANA)):
        ward = WARDS[i % len(WARDS)]
        out.append(Town(ward, name, kana, int(rng.integers(1, 7)), f"000{i // 8 + 1}{i:03d}"[:7]))
    return out


@dataclass
class Address:
    town: Town | None
    chome: int
    ban: int
    go: int
    building: str = ""
    outside: str = ""  # a place outside the city (住登外者, people who moved away)

    def canonical(self, with_prefecture: bool = False) -> str:
        """The form the city writes: full-width digits, 丁目/番/号."""
        if self.town is None:
            return self.outside + fullwidth_digits(f"{self.chome}丁目{self.ban}番{self.go}号")
        head = (PREFECTURE if with_prefecture else "") + CITY + self.town.ward + self.town.name
        body = fullwidth_digits(f"{self.chome}丁目{self.ban}番{self.go}号")
        return head + body + (("　" + self.building) if self.building else "")

    def variant(self, kind: int) -> str:
        """A notation variant of the same address (表記ゆれ), as decades of data entry made them."""
        if self.town is None:
            return self.canonical()
        t = self.town
        bld = ("　" + self.building) if self.building else ""
        if kind == 0:
            return f"{CITY}{t.ward}{t.name}{self.chome}-{self.ban}-{self.go}" + bld.replace(
                "　", " "
            )
        if kind == 1:
            return (
                f"{CITY}{t.ward}{t.name}{kanji_number(self.chome)}丁目{kanji_number(self.ban)}番{kanji_number(self.go)}号"
                + bld
            )
        if kind == 2:
            return (
                f"{t.ward}{t.name}" + fullwidth_digits(f"{self.chome}-{self.ban}-{self.go}") + bld
            )
        if kind == 3:
            return (
                f"{CITY}{t.ward}{t.name}{kanji_number(self.chome)}ノ{kanji_number(self.ban)}ノ{kanji_number(self.go)}"
                + bld
            )
        name = (
            t.name.replace("ケ", "ヶ").replace("が", "ヶ").replace("ノ", "の")
            if any(c in t.name for c in "ケがノ")
            else t.name
        )
        return (
            f"{PREFECTURE}{CITY}{t.ward}{name}"
            + fullwidth_digits(f"{self.chome}丁目{self.ban}番地{self.go}")
            + bld
        )


@dataclass
class Person:
    idx: int
    kind: str  # "1" resident, "2" 住登外者 (non-resident), "3" corporation
    atena_no: str
    name: str
    kana: str  # full-width katakana
    sex: str  # "1" / "2" / " "
    birth: dt.date | None
    address: Address
    my_number: str = ""
    juminhyo_code: str = ""
    household: int = 0
    relationship: str = "01"
    head: int = -1  # idx of the household head
    foreign: bool = False
    honseki_in_city: bool = False
    koseki_id: int = 0
    koseki_kojin_id: int = 0
    koseki_head: int = -1
    phone: str = ""
    registered: dt.date | None = None
    duplicates: list[str] = field(default_factory=list)  # atena numbers of its duplicate records
    children: list[int] = field(default_factory=list)
    gaiji: bool = False  # the name holds a character from the city's 外字 table

    def age(self, on: dt.date) -> int:
        if self.birth is None:
            return -1
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))
