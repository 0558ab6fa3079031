"""The authentication and fragmentation layer (AFL, CI 90, EN 13757-7).

After the AFL length come the fragmentation control field (FCL) and, as its
bits say, the message control (MCL), key information (KI), message counter
(MCR), MAC and message length (ML). Multi-byte fields except the MAC are
least significant byte first. The MCL's authentication type gives the MAC's
length. Security mode 7 takes its key derivation input from the MCR and is
checked with the MAC, which covers MCL, KI, MCR and ML as sent and then the
transport layer from its CI field to the end.

Fragmented messages (a fragment id, or more fragments to follow) are not
reassembled.
"""

from __future__ import annotations

from dataclasses import dataclass

from openamr.collect.mbus._reader import Reader
from openamr.collect.mbus.model import UnsupportedTelegram

AFL_CI = 0x90

_MORE_FRAGMENTS = 1 << 14
_MESSAGE_CONTROL_PRESENT = 1 << 13
_MESSAGE_LENGTH_PRESENT = 1 << 12
_MESSAGE_COUNTER_PRESENT = 1 << 11
_MAC_PRESENT = 1 << 10
_KEY_INFORMATION_PRESENT = 1 << 9

# Authentication type (MCL bits 0-3) -> MAC length: AES-CMAC-128 cut to 4, 8, 12 or 16 bytes.
_MAC_LENGTHS = {4: 4, 5: 8, 6: 12, 7: 16}


@dataclass(frozen=True, slots=True)
class AuthenticationLayer:
    """One AFL's fields; absent ones are None."""

    fragment_id: int
    more_fragments: bool
    message_control: int | None
    key_information: int | None
    message_counter: bytes | None  # the four MCR bytes as sent
    mac: bytes | None
    message_length: int | None
    mac_prefix: bytes  # MCL, KI, MCR and ML as sent: the start of what the MAC covers


def read_afl(payload: bytes) -> tuple[AuthenticationLayer, bytes]:
    """The AFL at the start of ``payload`` (after CI 90) and the bytes after it."""
    outer = Reader(payload, "authentication and fragmentation layer")
    length = outer.byte("length")
    reader = Reader(outer.take(length, "fields"), "authentication and fragmentation layer")
    control = reader.little(2, "fragmentation control field")
    fragment_id = control & 0xFF
    more_fragments = bool(control & _MORE_FRAGMENTS)
    if fragment_id or more_fragments:
        raise UnsupportedTelegram(
            f"fragment {fragment_id} of a fragmented message: reassembly is not supported"
        )
    prefix = bytearray()
    message_control = key_information = message_length = None
    message_counter = mac = None
    if control & _MESSAGE_CONTROL_PRESENT:
        message_control = reader.byte("message control field")
        prefix.append(message_control)
    if control & _KEY_INFORMATION_PRESENT:
        raw = reader.take(2, "key information field")
        key_information = int.from_bytes(raw, "little")
        prefix += raw
    if control & _MESSAGE_COUNTER_PRESENT:
        message_counter = reader.take(4, "message counter")
        prefix += message_counter
    if control & _MAC_PRESENT:
        mac = reader.take(_mac_length(message_control), "MAC")
    if control & _MESSAGE_LENGTH_PRESENT:
        raw = reader.take(2, "message length field")
        message_length = int.from_bytes(raw, "little")
        prefix += raw
    return (
        AuthenticationLayer(
            fragment_id=fragment_id,
            more_fragments=more_fragments,
            message_control=message_control,
            key_information=key_information,
            message_counter=message_counter,
            mac=mac,
            message_length=message_length,
            mac_prefix=bytes(prefix),
        ),
        outer.rest(),
    )


def _mac_length(message_control: int | None) -> int:
    authentication_type = (message_control or 0) & 0x0F
    if authentication_type not in _MAC_LENGTHS:
        raise UnsupportedTelegram(
            f"AFL authentication type {authentication_type} has no MAC length this decoder knows"
        )
    return _MAC_LENGTHS[authentication_type]
