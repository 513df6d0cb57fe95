"""Defaults that follow the code page (issue 9 §1) against the JDK oracle corpus, and hypothesis
properties of the wide binary and IEEE float decoders. All data synthetic."""

from __future__ import annotations

import csv
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.decode import REASONS, decode_binary, decode_float
from ikou.mainframe.engine import decode_file
from ikou.mainframe.engine_options import mixed_by_default

from .conftest import fixed

CORPUS = Path(__file__).resolve().parents[2] / "data" / "oracle" / "jdk_corpus.tsv"

CPY = fixed("01  R.", "    05  KIND  PIC X.", "    05  TEXT  PIC X(80).")


def corpus(charset: str) -> list[dict]:
    lines = [x for x in CORPUS.read_text("utf-8").splitlines() if x and not x.startswith("#")]
    rows = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    return [r for r in rows if r["hex"] and r["charset"] == charset]


def oracle_file(rows) -> bytes:
    return b"".join(b"\xe2" + bytes.fromhex(r["hex"]).ljust(80, b"\x40") for r in rows)


def test_mixed_by_default_follows_the_ccsid():
    assert all(mixed_by_default(e) for e in ("cp930", "cp939", "cp1390", "cp1399", "IBM-930"))
    assert not any(mixed_by_default(e) for e in ("jef", "keis", "jips", "cp037", "ascii"))


def test_every_pic_x_field_decodes_so_si_by_default_as_the_jdk_does():
    rows = corpus("IBM930")
    assert any(0x0E in bytes.fromhex(r["hex"]) for r in rows)  # the corpus holds SO/SI text
    cb = parse_copybook(CPY)
    run = decode_file(oracle_file(rows), cb, encoding="cp930", variant="jdk", recfm="FB")
    got = [r["TEXT"] for c in run for r in c.batch.to_pylist()]
    assert run.summary.quarantined == 0
    assert got == [r["decoded"].rstrip(" \u3000") for r in rows]


def test_sbcs_field_makes_a_field_strictly_single_byte():
    rows = corpus("IBM930")
    with_so = [r for r in rows if 0x0E in bytes.fromhex(r["hex"])]
    cb = parse_copybook(CPY)
    run = decode_file(
        oracle_file(with_so), cb, encoding="cp930", variant="jdk", recfm="FB", sbcs_fields=("TEXT",)
    )
    q = [row for c in run for row in c.quarantine.to_pylist()]
    assert len(q) == len(with_so) and {x["reason"] for x in q} == {"undefined_sbcs"}


def test_jef_keeps_per_field_mixed():
    cb = parse_copybook(CPY)
    run = decode_file(b"\xe2" + b"\x40" * 80, cb, encoding="jef", recfm="FB")
    assert run.plans["R"].layout.field("TEXT").kind == "alphanumeric"
    run = decode_file(b"\xe2" + b"\x40" * 80, cb, encoding="cp930", recfm="FB")
    assert run.plans["R"].layout.field("TEXT").kind == "mixed"


def _field(pic: str, usage: str):
    return parse_copybook(fixed("01  R.", f"    05  F  PIC {pic} {usage}.")).record().field("F")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=19, max_value=38), st.data())
def test_property_wide_binary_equals_python_int(digits, data):
    f = _field(f"S9({digits})", "COMP")
    limit = min(10**38 - 1, 2 ** (8 * f.size - 1) - 1)
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    b = np.frombuffer(
        b"".join(v.to_bytes(f.size, "big", signed=True) for v in values), np.uint8
    ).reshape(len(values), f.size)
    el = decode_binary(b, f)
    assert [REASONS[x] for x in el.bad] == [""] * len(values)
    assert [Decimal(x) for x in el.array.to_pylist()] == [Decimal(v) for v in values]


def test_wide_binary_beyond_38_digits_is_an_overflow():
    f = _field("S9(38)", "COMP")
    b = np.frombuffer((10**38).to_bytes(16, "big", signed=True), np.uint8).reshape(1, 16)
    el = decode_binary(b, f)
    assert REASONS[el.bad[0]] == "binary_overflow" and el.array.to_pylist() == [None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=20))
def test_property_ieee_floats(values):
    f1 = parse_copybook(fixed("01  R.", "    05  F  COMP-1.")).record().field("F")
    for fmt, order in (("ieee", ">"), ("ieee-le", "<")):
        raw = b"".join(struct.pack(order + "f", v) for v in values)
        b = np.frombuffer(raw, np.uint8).reshape(len(values), 4)
        got = decode_float(b, f1, fmt=fmt).array.to_pylist()
        assert got == [struct.unpack(order + "f", struct.pack(order + "f", v))[0] for v in values]
