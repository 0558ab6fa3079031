"""Link layers: wired M-Bus frames (EN 13757-2) and wireless M-Bus frames (EN 13757-4).

Wired M-Bus uses the FT1.2 frames of EN 60870-5-2: the single character E5,
the short frame ``10 C A CS 16`` and the long frame ``68 L L 68 C A CI … CS
16``, whose checksum is the byte sum of C to the last data byte. Only a long
frame carries readings.

A wireless frame starts ``L C M M A A A A A A CI``. On the air it carries
CRCs (EN 13757-4): in frame format A after the first ten bytes and after
every 16 bytes that follow, with L counting no CRC byte; in format B one CRC
after at most 126 bytes and one at the end, with L counting them. Gateways
often remove the CRCs before forwarding, so a frame is read like this:

- exactly L + 1 bytes: format B if its CRCs verify, otherwise a frame whose
  CRCs the gateway already removed (a format B frame with wrong CRCs is
  therefore read as a CRC-less one and fails later, in its content);
- exactly L + 1 + 2 × blocks bytes: format A with CRCs, every one checked;
- anything else: a bad frame.

Every CRC of a frame starts at its L field and runs over the link header (L,
C, M, A), which a meter sends the same each time: the CRC register after a
header is kept by the header's bytes, and only the rest is run per frame.

A frame is taken as wired when it has the wired structure (68 L L 68) and
its length does not fit a wireless frame whose L is 0x68.
"""

from __future__ import annotations

from typing import NamedTuple

from openamr.collect.mbus._cache import METERS_KEPT, BoundedCache
from openamr.collect.mbus.crc import crc16_en13757, crc16_register
from openamr.collect.mbus.identity import device_from_link_address
from openamr.collect.mbus.model import BadFrame, Device, UnsupportedTelegram

WIRED_START = 0x68
WIRED_SHORT_START = 0x10
WIRED_STOP = 0x16
WIRED_ACK = 0xE5
_ACK_FRAME = bytes([WIRED_ACK])

_FORMAT_A_FIRST_BLOCK = 10
_FORMAT_A_BLOCK = 16
_FORMAT_B_FIRST_PART = 126  # L, C, M, A, CI and up to 115 data bytes, before the first CRC
_FORMAT_B_SINGLE_CRC_MAX_L = 127
_WIRELESS_HEADER = 10  # L, C, M (2), A (6)

# Wired C fields from the master; a meter answers with RSP_UD (08, with the ACD and DFC bits).
_WIRED_REQUESTS = {
    0x40: "SND_NKE",
    0x53: "SND_UD",
    0x73: "SND_UD",
    0x5A: "REQ_UD1",
    0x7A: "REQ_UD1",
    0x5B: "REQ_UD2",
    0x7B: "REQ_UD2",
}


class LinkFrame(NamedTuple):
    """What the link layer hands up: the first CI field and what follows it.

    A named tuple (as the transport header and the ELL are): one is built for
    every telegram, and a frozen dataclass takes several times as long to build.
    """

    link: str  # "mbus" or "wmbus"
    c_field: int
    ci: int
    payload: bytes  # everything after the CI field, link CRCs removed
    header: bytes  # the link-layer bytes before the CI field (CRCs removed)
    sender: Device | None  # wireless: the link-layer address; wired: named by the TPL
    primary_address: int | None  # wired only
    notes: tuple[str, ...] = ()


def read_frame(data: bytes) -> LinkFrame:
    """The link layer of a wired or a wireless frame. Raises BadFrame, UnsupportedTelegram."""
    if not data:
        raise BadFrame("the telegram is empty")
    if looks_wired(data):
        return read_wired_frame(data)
    return read_wireless_frame(data)


def looks_wired(data: bytes) -> bool:
    """Whether ``data`` is a wired M-Bus frame rather than a wireless one."""
    if data == _ACK_FRAME:
        return True
    if data[0] == WIRED_SHORT_START and len(data) == 5:
        return True
    if len(data) >= 4 and data[0] == data[3] == WIRED_START:
        # A wireless frame whose L is 0x68 can start like this too; a complete wired
        # frame (length, stop byte, checksum) wins, a broken one only if it cannot
        # be wireless by its length.
        return _complete_wired_frame(data) or len(data) not in _wireless_lengths(data[0])
    return False


def read_wired_frame(data: bytes) -> LinkFrame:
    """A wired M-Bus long frame, length, checksum and stop byte checked.

    Raises BadFrame for a damaged frame and UnsupportedTelegram for frames that
    carry no reading (E5, short frames, requests from the master).
    """
    if data == _ACK_FRAME:
        raise UnsupportedTelegram("a single-character acknowledgement (E5) carries no reading")
    if data[0] == WIRED_SHORT_START:
        if len(data) != 5:
            raise BadFrame(f"a wired short frame has 5 bytes, this one {len(data)}")
        _check_wired_checksum(data[1:3], data[3], "short frame")
        _check_stop(data, "short frame")
        raise UnsupportedTelegram(
            f"a short frame (10 C A CS 16, C=0x{data[1]:02X}) is a request or an "
            "acknowledgement and carries no reading"
        )
    if len(data) < 9:
        raise BadFrame(f"a wired long frame has at least 9 bytes, this one {len(data)}")
    if data[0] != WIRED_START or data[3] != WIRED_START:
        raise BadFrame("a wired long frame starts 68 L L 68")
    length = data[1]
    if data[2] != length:
        raise BadFrame(f"wired frame: its two L fields differ ({data[1]:02X}, {data[2]:02X})")
    if len(data) != length + 6:
        raise BadFrame(
            f"wired frame: L=0x{length:02X} says {length + 6} bytes, the frame has {len(data)}"
        )
    if length < 3:
        raise BadFrame(f"wired frame: L=0x{length:02X} leaves no room for C, A and CI")
    _check_wired_checksum(data[4 : 4 + length], data[4 + length], "long frame")
    _check_stop(data, "long frame")
    c_field, address, ci = data[4], data[5], data[6]
    if c_field in _WIRED_REQUESTS:
        raise UnsupportedTelegram(
            f"a {_WIRED_REQUESTS[c_field]} (C=0x{c_field:02X}) is a request from the master, "
            "not a meter's response"
        )
    return LinkFrame(
        link="mbus",
        c_field=c_field,
        ci=ci,
        payload=data[7 : 4 + length],
        header=data[:6],
        sender=None,
        primary_address=address,
        notes=("wired M-Bus long frame, checksum verified",),
    )


def read_wireless_frame(data: bytes) -> LinkFrame:
    """A wireless M-Bus frame in format A or B, with or without its CRCs. Raises BadFrame."""
    length = data[0]
    if length < _WIRELESS_HEADER:
        raise BadFrame(f"wireless frame: L=0x{length:02X} is too short for C, M, A and a CI field")
    plain, note = _remove_crcs(data)
    if len(plain) < _WIRELESS_HEADER + 1:
        raise BadFrame("wireless frame ends before its CI field")
    header = plain[:_WIRELESS_HEADER]
    return LinkFrame(
        "wmbus",
        header[1],  # C field
        plain[_WIRELESS_HEADER],  # CI field
        plain[_WIRELESS_HEADER + 1 :],  # payload
        header,
        device_from_link_address(header[2:10]),  # sender
        None,  # primary address
        (note,),
    )


def _remove_crcs(data: bytes) -> tuple[bytes, str]:
    length = data[0]
    if len(data) == length + 1:
        stripped = _strip_format_b(data)
        if stripped is not None:
            return stripped, "wireless frame format B, link CRCs verified"
        return data, "wireless frame without link CRCs (removed by the gateway)"
    with_crcs = _format_a_length(length)
    if len(data) == with_crcs:
        return _strip_format_a(data), "wireless frame format A, link CRCs verified"
    if len(data) < length + 1:
        raise BadFrame(
            f"wireless frame is truncated: L=0x{length:02X} says {length + 1} bytes "
            f"({with_crcs} with format A CRCs), the frame has {len(data)}"
        )
    raise BadFrame(
        f"wireless frame length does not fit its L field: L=0x{length:02X} says {length + 1} "
        f"bytes without CRCs or {with_crcs} with format A CRCs, the frame has {len(data)}"
    )


def _format_a_length(length: int) -> int:
    """The frame size of format A with CRCs: one CRC per block."""
    data_after_first = length + 1 - _FORMAT_A_FIRST_BLOCK
    blocks = 1 + -(-data_after_first // _FORMAT_A_BLOCK)
    return length + 1 + 2 * blocks


def _wireless_lengths(length: int) -> tuple[int, int]:
    return length + 1, _format_a_length(length)


def _complete_wired_frame(data: bytes) -> bool:
    length = data[1]
    return (
        data[2] == length
        and len(data) == length + 6
        and data[-1] == WIRED_STOP
        and sum(data[4 : 4 + length]) & 0xFF == data[4 + length]
    )


def _strip_format_a(data: bytes) -> bytes:
    parts = [_checked_block(data, 0, _FORMAT_A_FIRST_BLOCK, 1)]
    position = _FORMAT_A_FIRST_BLOCK + 2
    number = 2
    while position < len(data):
        size = min(_FORMAT_A_BLOCK, len(data) - position - 2)
        parts.append(_checked_block(data, position, size, number))
        position += size + 2
        number += 1
    return b"".join(parts)


def _checked_block(data: bytes, start: int, size: int, number: int) -> bytes:
    block = data[start : start + size]
    sent = int.from_bytes(data[start + size : start + size + 2], "big")
    computed = _frame_crc(data, size) if start == 0 else crc16_en13757(block)
    if sent != computed:
        raise BadFrame(
            f"link CRC of block {number} does not match: sent {sent:04X}, computed {computed:04X}"
        )
    return block


def _strip_format_b(data: bytes) -> bytes | None:
    """Format B without its CRCs, or None if the CRCs do not verify."""
    length = data[0]
    if length <= _FORMAT_B_SINGLE_CRC_MAX_L:
        if len(data) < _WIRELESS_HEADER + 3:
            return None
        verified = _frame_crc(data, len(data) - 2) == int.from_bytes(data[-2:], "big")
        return data[:-2] if verified else None
    first_end = _FORMAT_B_FIRST_PART
    if not (_crc_at(data, 0, first_end) and _crc_at(data, first_end + 2, len(data) - 2)):
        return None
    return data[:first_end] + data[first_end + 2 : -2]


def _crc_at(data: bytes, start: int, end: int) -> bool:
    computed = _frame_crc(data, end) if start == 0 else crc16_en13757(data[start:end])
    return computed == int.from_bytes(data[end : end + 2], "big")


# The CRC register after a link header (L, C, M, A), by its bytes: every CRC of a
# frame runs over its header first, and a meter sends the same header each time.
_HEADER_REGISTERS: BoundedCache[bytes, int] = BoundedCache(METERS_KEPT)


def _frame_crc(data: bytes, end: int) -> int:
    """The CRC of ``data[:end]``: a frame from its L field on, ``end`` not inside its header."""
    header = bytes(data[:_WIRELESS_HEADER])
    register = _HEADER_REGISTERS.get(header)
    if register is None:
        register = _HEADER_REGISTERS.keep(header, crc16_register(header))
    return crc16_register(data[_WIRELESS_HEADER:end], register) ^ 0xFFFF


def _check_wired_checksum(covered: bytes, sent: int, what: str) -> None:
    computed = sum(covered) & 0xFF
    if computed != sent:
        raise BadFrame(
            f"wired {what} checksum does not match: sent {sent:02X}, computed {computed:02X}"
        )


def _check_stop(data: bytes, what: str) -> None:
    if data[-1] != WIRED_STOP:
        raise BadFrame(f"wired {what} does not end with the stop byte 16 but {data[-1]:02X}")
