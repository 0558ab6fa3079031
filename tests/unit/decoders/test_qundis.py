"""Qundis: the walk-by block of a Q caloric read into the records of its standard telegram.

Vectors: wmbusmeters-qcaloric-hca-ci78-mfct-block (and wmbusmeters-qcaloric-hca,
a standard telegram this family leaves alone).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.qundis import Qundis
from openamr.collect.mbus.model import Device, Record, UnableToDecodeTelegram
from openamr.collect.mbus.records import parse_records
from tests.unit.decoders.vectors import wireless

QUNDIS = Qundis()
WALK_BY = "wmbusmeters-qcaloric-hca-ci78-mfct-block"


def _walk_by_records() -> tuple[Device, tuple[Record, ...]]:
    device, _, ci, payload = wireless(WALK_BY)
    assert ci == 0x78
    return device, parse_records(payload)


def test_walk_by_block_becomes_current_due_date_and_month_end_values() -> None:
    device, records = _walk_by_records()
    readable, flags = QUNDIS.interpret(device, records)
    assert flags == ()
    values = {(r.quantity, r.storage, r.value, r.at) for r in readable}
    assert values == {
        ("hca_units", 0, 97, None),
        ("date", 1, date(2020, 12, 31), None),
        ("hca_units", 1, 270, date(2020, 12, 31)),
        ("date", 17, date(2021, 6, 30), None),
        ("hca_units", 17, 97, date(2021, 6, 30)),
        ("date_time", 0, datetime(2021, 7, 2, 15, 34), None),
    }
    assert {r.unit for r in readable if r.quantity == "hca_units"} == {"units"}


def test_the_walk_by_block_states_what_the_standard_telegram_states() -> None:
    # The same model's standard telegram keeps these in storage 1 and 17 too.
    device, _, _, payload = wireless("wmbusmeters-qcaloric-hca")
    standard = parse_records(payload[4:])
    assert QUNDIS.interpret(device, standard) == (standard, ())
    walk_by_device, walk_by = _walk_by_records()
    storages = {r.storage for r in QUNDIS.interpret(walk_by_device, walk_by)[0]}
    assert storages <= {r.storage for r in standard}


def test_a_block_of_another_kind_stays_raw() -> None:
    device, records = _walk_by_records()
    block = next(r for r in records if r.quantity == "manufacturer_specific")
    assert isinstance(block.value, bytes)
    other = replace(block, value=block.value[:9] + b"\x05" + block.value[10:])
    assert QUNDIS.interpret(device, [other]) == ((other,), ())
    shorter = replace(block, value=block.value[:40])
    assert QUNDIS.interpret(device, [shorter]) == ((shorter,), ())


def test_digits_that_are_not_bcd_give_no_value() -> None:
    device, records = _walk_by_records()
    block = next(r for r in records if r.quantity == "manufacturer_specific")
    assert isinstance(block.value, bytes)
    broken = replace(block, value=block.value[:12] + b"\xab\x00\x00\x00" + block.value[16:])
    readable, _ = QUNDIS.interpret(device, [broken])
    current = next(r for r in readable if r.quantity == "hca_units" and r.storage == 0)
    assert current.value is None
    assert "error" in current.description


@settings(max_examples=400, deadline=None, database=None)
@given(block=st.binary(min_size=53, max_size=53), vif=st.sampled_from([0x6E, 0x05]))
def test_random_blocks_are_read_or_kept(block: bytes, vif: int) -> None:
    record = Record(
        "manufacturer_specific",
        block[:9] + bytes([vif]) + block[10:],
        None,
        raw=bytes.fromhex("0DFF5F"),
    )
    try:
        readable, _ = QUNDIS.interpret(Device("QDS", "1", 0x34, 0x08, ""), [record])
    except UnableToDecodeTelegram:
        return
    assert len(readable) in (1, 5)
