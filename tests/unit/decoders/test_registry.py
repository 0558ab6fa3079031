"""The family registry: stable names, who claims which vector, and the protocol's defaults.

Covers every vector's manufacturer: each is claimed by the family the
family tests name, or by none.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect import decoders
from openamr.collect.decoders import (
    FAMILIES,
    family_for,
    known_compact_layouts,
    status_bit_names,
)
from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.model import Device, Record
from tests.unit.decoders.vectors import VECTORS, rejection_reason

# The names are stored with every telegram: changing one is a migration.
STABLE_NAMES = {
    "KAM": "kamstrup",
    "TCH": "techem",
    "SAP": "diehl_prios",
    "DME": "diehl_prios",
    "HYD": "diehl_prios",
    "APA": "apator",
    "APT": "apator",
    "QDS": "qundis",
    "EFE": "engelmann",
    "ABB": "abb",
    "SEC": "schneider",
    "LAS": "lansen",
}


def test_family_names_are_unique_and_stable() -> None:
    names = [family.name for family in FAMILIES]
    assert len(names) == len(set(names))
    for manufacturer, name in STABLE_NAMES.items():
        family = family_for(Device(manufacturer, "1", 0, 0, ""), 0x7A)
        assert family is not None, manufacturer
        assert family.name == name, manufacturer


def test_every_vector_manufacturer_is_claimed_as_expected() -> None:
    for entry in json.loads(VECTORS.read_text(encoding="utf-8")):
        header = entry.get("header") or {}
        manufacturer = header.get("manufacturer")
        if manufacturer is None:
            continue
        family = family_for(Device(manufacturer, "1", 0, 0, ""), 0x7A)
        assert (family.name if family else None) == STABLE_NAMES.get(manufacturer), entry["id"]


def test_lansen_names_its_sabotage_bit_and_others_name_none() -> None:
    assert status_bit_names(Device("LAS", "00010203", 0x07, 0x1B, ""), 0x7A) == {
        0x40: "sabotage_enclosure"
    }
    assert status_bit_names(Device("KAM", "1", 0x1B, 0x16, ""), 0x7A) == {}
    assert status_bit_names(Device("XYZ", "1", 0, 0, ""), 0x7A) == {}


def test_known_compact_layouts_carry_distinct_signatures_per_manufacturer() -> None:
    known = known_compact_layouts()
    assert {manufacturer for manufacturer, _ in known} == {"KAM", "EFE"}
    keys = [(manufacturer, crc16_en13757(layout)) for manufacturer, layout in known]
    assert len(keys) == len(set(keys))
    assert ("EFE", 0x052D) in keys
    assert ("KAM", 0xA8ED) in keys


@pytest.mark.parametrize("family", FAMILIES, ids=[family.name for family in FAMILIES])
def test_families_without_a_payload_scheme_decline(family: decoders.Family) -> None:
    device = Device("ZZZ", "1", 0, 0, "")
    assert family.decode_payload(device, 0x72, bytes(30), key=None, header=bytes(10)) is None


@settings(max_examples=500, deadline=None, database=None)
@given(
    family=st.sampled_from(FAMILIES),
    manufacturer=st.sampled_from(sorted(STABLE_NAMES)),
    version=st.integers(0, 255),
    device_type=st.integers(0, 255),
    ci=st.integers(0, 255),
    payload=st.binary(max_size=70),
    header=st.binary(max_size=12),
    key=st.none() | st.binary(min_size=16, max_size=16),
    raw=st.binary(max_size=6),
    value=st.none() | st.binary(max_size=60) | st.integers(-(2**40), 2**40),
)
def test_no_family_raises_anything_but_a_rejection(
    family: decoders.Family,
    manufacturer: str,
    version: int,
    device_type: int,
    ci: int,
    payload: bytes,
    header: bytes,
    key: bytes | None,
    raw: bytes,
    value: bytes | int | None,
) -> None:
    device = Device(manufacturer, "12345678", version, device_type, "")
    reason = rejection_reason(
        lambda: family.decode_payload(device, ci, payload, key=key, header=header)
    )
    assert reason is None or reason
    records = [
        Record("manufacturer_specific", value, None, raw=raw),
        Record("error_flags", value, None, raw=raw),
    ]
    family.interpret(device, records)
