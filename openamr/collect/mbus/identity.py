"""Who sent a telegram: manufacturer (FLAG), identification number, version, device type.

The same eight bytes name a meter in the wireless link layer (EN 13757-4:
M-field, then the A-field of ID, version, device type) and in the long
transport header (EN 13757-7: ID, manufacturer, version, device type). The
identification number is eight BCD digits, least significant byte first,
printed as the meter prints it; a few manufacturers put hex digits there, and
those are kept as they are.

A meter names itself with the same bytes in every telegram, so each Device is
built once and kept by those eight bytes (one cache per byte order).
"""

from __future__ import annotations

from openamr.collect.mbus._cache import METERS_KEPT, BoundedCache
from openamr.collect.mbus.model import Device

# EN 13757-7 device type (medium) codes and their names.
_DEVICE_TYPES: dict[int, str] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat",
    0x05: "steam",
    0x06: "warm water",
    0x07: "water",
    0x08: "heat cost allocator",
    0x09: "compressed air",
    0x0A: "cooling (outlet)",
    0x0B: "cooling (inlet)",
    0x0C: "heat (inlet)",
    0x0D: "heat/cooling",
    0x0E: "bus/system component",
    0x0F: "unknown medium",
    0x14: "calorific value",
    0x15: "hot water",
    0x16: "cold water",
    0x17: "hot/cold water",
    0x18: "pressure",
    0x19: "A/D converter",
    0x1A: "smoke detector",
    0x1B: "room sensor",
    0x1C: "gas detector",
    0x20: "breaker (electricity)",
    0x21: "valve (gas or water)",
    0x25: "customer unit (display)",
    0x28: "waste water",
    0x29: "garbage",
    0x2A: "carbon dioxide",
    0x31: "communication controller",
    0x32: "unidirectional repeater",
    0x33: "bidirectional repeater",
    0x36: "radio converter (system side)",
    0x37: "radio converter (meter side)",
    0x38: "wired adapter",
    # Reserved codes that EN 13757-7 assigns to a group.
    **dict.fromkeys(range(0x1D, 0x20), "sensor"),
    **dict.fromkeys(range(0x22, 0x25), "switching device"),
    **dict.fromkeys((0x26, 0x27), "customer unit"),
    **dict.fromkeys(range(0x2B, 0x30), "environmental meter"),
    **dict.fromkeys((0x30, 0x34, 0x35, *range(0x39, 0x40)), "system device"),
}


def medium_name(device_type: int) -> str:
    """The EN 13757-7 name of a device type code, e.g. 0x16 -> "cold water"."""
    return _DEVICE_TYPES.get(device_type, f"reserved device type 0x{device_type:02X}")


def manufacturer_code(field: int) -> str:
    """The three FLAG letters packed five bits each into the 15 low bits of the M-field."""
    return "".join(chr(64 + ((field >> shift) & 0x1F)) for shift in (10, 5, 0))


def identification(id_bytes: bytes) -> str:
    """The identification number as printed: the four bytes' digits, most significant first."""
    return id_bytes[::-1].hex().upper()


def device_from_link_address(address: bytes) -> Device:
    """The sender named by a wireless link address (8 bytes): M, ID (4), version, device type."""
    address = bytes(address)
    device = _BY_LINK_ADDRESS.get(address)
    if device is None:
        device = _device(
            manufacturer=int.from_bytes(address[0:2], "little"),
            id_bytes=address[2:6],
            version=address[6],
            device_type=address[7],
        )
        _BY_LINK_ADDRESS.keep(address, device)
    return device


def device_from_long_header(address: bytes) -> Device:
    """The meter named by a long transport header (8 bytes): ID (4), M, version, device type."""
    address = bytes(address)
    device = _BY_LONG_HEADER.get(address)
    if device is None:
        device = _device(
            manufacturer=int.from_bytes(address[4:6], "little"),
            id_bytes=address[0:4],
            version=address[6],
            device_type=address[7],
        )
        _BY_LONG_HEADER.keep(address, device)
    return device


def describe(device: Device) -> str:
    """A device as operators write it: manufacturer, id, version and medium."""
    return (
        f"{device.manufacturer} {device.id} version 0x{device.version:02X} "
        f"({device.medium}, device type 0x{device.device_type:02X})"
    )


def _device(*, manufacturer: int, id_bytes: bytes, version: int, device_type: int) -> Device:
    return Device(
        manufacturer=manufacturer_code(manufacturer),
        id=identification(id_bytes),
        version=version,
        device_type=device_type,
        medium=medium_name(device_type),
    )


# Devices by the exact eight address bytes that name them: a meter sends the
# same address in every telegram, so its Device (FLAG letters, digits, medium
# name) is built once. The bytes are all that _device reads.
_BY_LINK_ADDRESS: BoundedCache[bytes, Device] = BoundedCache(METERS_KEPT)
_BY_LONG_HEADER: BoundedCache[bytes, Device] = BoundedCache(METERS_KEPT)
