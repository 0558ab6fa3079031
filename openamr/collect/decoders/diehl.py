"""Diehl / Sappel IZAR (SAP, DME, HYD): the PRIOS radio payload, descrambled and read.

An IZAR meter sends, after a manufacturer-specific CI field (A1h-A3h), four
plain header bytes and a scrambled body. The scheme, as Jacek Tomasiak
worked it out and Erwan Martin's "IZAR I R4 PRIOS meter collector"
(BSD-licensed) documents it, with the field meanings of the wmbusmeters
``izarv2`` driver notes (facts only; the code is ours):

- The seed: the two 32-bit big-endian halves of an 8-byte PRIOS key XORed,
  then XORed with the big-endian words of the link header's M and A fields
  (bytes 2-5 and 6-9 of the frame) and of the CI field with the first three
  header bytes. Diehl's two published default keys are tried in turn.
- The keystream: a 32-bit shift register stepped eight times per byte,
  feeding back the XOR of its bits 1, 2, 11 and 31; each body byte is
  XORed with the register's low byte. The first plain byte must be 4Bh.
- The body: 4Bh, total volume (32 bits, litres), volume at the last
  billing date (32 bits, litres) and that date (type G), if present.
- The header bytes: transmission period 2^(n+2) s in bits 0-3 of byte 0, a
  general alarm in its bit 7; remaining battery life in half years in bits
  0-4 of byte 1; alarms in bits 5-7 of byte 1 and all of byte 2.

For Sappel (SAP) meters the link address also encodes what is printed on the
meter: the serial number's eight decimal digits are the low 26 bits of the ID
(the first two digits the year of manufacture), and the prefix letters come
from the top bits of the ID and the version and device type bytes.

Not yet understood: header byte 3 looks like a VIF (13h, litres) but a meter
sending 15h was reported in litres too, so it is not used as a scale; bits
4-5 of header byte 0 ("random generator"). Some IZAR meters (Hydrus, CI 7Ah)
send standard OMS telegrams; this family leaves those to the standard layer.
"""

from __future__ import annotations

from decimal import Decimal

from openamr.collect.decoders._common import Decoded, ManufacturerFamily, little, require, set_bits
from openamr.collect.mbus.datatypes import decode_date_g
from openamr.collect.mbus.model import Device, KeyNeeded, Record, UnsupportedTelegram, WrongKey

_PRIOS_CIS = frozenset({0xA1, 0xA2, 0xA3})
_DEFAULT_KEYS = (bytes.fromhex("39BC8A10E66D83F8"), bytes.fromhex("51728910E66D83F8"))
_CHECK_BYTE = 0x4B
_HEADER_BYTES = 4
_BODY_WITHOUT_BILLING = 5  # check byte and total volume
_BODY_WITH_BILLING = 11  # and the billing value and its date
_LINK_HEADER = 10  # L, C, M (2), A (6)
_LITRE = Decimal("0.001")
_HALF = Decimal("0.5")
_ALARMS = {
    0x000080: "alarm",
    0x008000: "leak",
    0x004000: "leak_previously",
    0x002000: "meter_blocked",
    0x800000: "reverse_flow",
    0x400000: "underflow",
    0x200000: "overflow",
    0x100000: "submerged",
    0x080000: "tamper_sensor",
    0x040000: "tamper_sensor_previously",
    0x020000: "tamper_mechanical",
    0x010000: "tamper_mechanical_previously",
}


class DiehlPrios(ManufacturerFamily):
    """IZAR PRIOS payloads; Diehl's OMS telegrams (CI 7Ah, 72h) pass to the standard layer."""

    name = "diehl_prios"
    manufacturers = frozenset({"SAP", "DME", "HYD"})

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> Decoded | None:
        """The volumes, billing date, battery and alarms of a PRIOS payload."""
        if ci not in _PRIOS_CIS:
            return None
        require(payload, _HEADER_BYTES + _BODY_WITHOUT_BILLING, "IZAR PRIOS")
        if len(header) < _LINK_HEADER:
            raise UnsupportedTelegram(
                f"IZAR PRIOS: the link header has {len(header)} bytes, the descrambling needs "
                f"its M and A fields ({_LINK_HEADER} bytes)"
            )
        body = _descramble(header[2:_LINK_HEADER], ci, payload, key)
        return _records(device, header[2:_LINK_HEADER], payload[:_HEADER_BYTES], body)


def prios_keys(key: bytes | None) -> tuple[bytes, ...]:
    """The 8-byte PRIOS keys to try: a configured one first, then Diehl's defaults.

    A PRIOS key is 8 bytes; configured as an AES-sized 16 bytes it is the
    8 bytes twice (Diehl's default keys appear so as OMS keys too).
    """
    if key is None:
        return _DEFAULT_KEYS
    if len(key) == 16 and key[:8] == key[8:]:
        key = key[:8]
    if len(key) != 8:
        return _DEFAULT_KEYS
    return (key, *(default for default in _DEFAULT_KEYS if default != key))


def descramble(seed: int, data: bytes) -> bytes:
    """``data`` XORed with the PRIOS keystream that starts from ``seed``."""
    state = seed & 0xFFFFFFFF
    plain = bytearray()
    for byte in data:
        for _ in range(8):
            feedback = ((state >> 1) ^ (state >> 2) ^ (state >> 11) ^ (state >> 31)) & 1
            state = ((state << 1) | feedback) & 0xFFFFFFFF
        plain.append(byte ^ (state & 0xFF))
    return bytes(plain)


def seed(key: bytes, address: bytes, ci: int, head: bytes) -> int:
    """The keystream's start: the key's halves, the M and A fields, CI and header bytes, XORed."""
    value = int.from_bytes(key[:4], "big") ^ int.from_bytes(key[4:8], "big")
    value ^= int.from_bytes(address[:4], "big") ^ int.from_bytes(address[4:8], "big")
    return value ^ int.from_bytes(bytes([ci]) + head[:3], "big")


def _descramble(address: bytes, ci: int, payload: bytes, key: bytes | None) -> bytes:
    scrambled = payload[_HEADER_BYTES:]
    for candidate in prios_keys(key):
        body = descramble(seed(candidate, address, ci, payload), scrambled)
        if body[0] == _CHECK_BYTE:
            return body
    if key is None:
        raise KeyNeeded(
            "IZAR PRIOS payload does not descramble with Diehl's default keys; "
            "the meter needs its own PRIOS key"
        )
    raise WrongKey("IZAR PRIOS payload does not descramble with the configured key (no 4Bh)")


def _records(device: Device, address: bytes, head: bytes, body: bytes) -> Decoded:
    status = little(head[:3])
    records = [
        Record("volume", little(body[1:5]) * _LITRE, "m3", description="total volume"),
        Record(
            "remaining_battery_life",
            (head[1] & 0x1F) * _HALF,
            "year",
            description="remaining battery life",
        ),
        Record(
            "transmission_period",
            1 << ((head[0] & 0x0F) + 2),
            "s",
            description="time between transmissions",
        ),
        Record("status_flags", status, None, description="IZAR alarm bits (header bytes 0-2)"),
    ]
    if len(body) >= _BODY_WITH_BILLING:
        billing_date, _note = decode_date_g(body[9:11])
        records.append(
            Record(
                "volume",
                little(body[5:9]) * _LITRE,
                "m3",
                storage=1,
                at=billing_date if not isinstance(billing_date, str) else None,
                description="volume at the last billing date",
            )
        )
        records.append(
            Record("date", billing_date, None, storage=1, description="last billing date")
        )
    if device.manufacturer == "SAP":
        records.extend(_printed_identity(address))
    return tuple(records), set_bits(status, _ALARMS)


def _printed_identity(address: bytes) -> tuple[Record, ...]:
    """Prefix, serial number and year of manufacture as printed on a Sappel meter."""
    identification, version, device_type = address[2:6], address[6], address[7]
    digits = f"{little(identification) & 0x03FFFFFF:08d}"
    year = int(digits[:2])
    top = identification[3]
    supplier = chr(64 + (((device_type & 0x0F) << 1) | (version >> 7)))
    meter_type = chr(64 + ((version & 0x7C) >> 2))
    diameter = chr(64 + (((version & 0x03) << 3) | (top >> 5)))
    return (
        Record("serial_prefix", f"{supplier}{digits[:2]}{meter_type}{diameter}", None),
        Record("serial_number", digits[2:], None, description="serial number printed on the meter"),
        Record("manufacture_year", 2000 + year if year <= 80 else 1900 + year, None),
    )
