"""The extended link layer (ELL, EN 13757-4): CI 8C to 8F between link and transport.

Every ELL has a communication control byte (CC) and an access number. CI 8E
and 8F add the address of the receiver (M2, A2), CI 8D and 8F a session number
(SN) and a payload CRC. The SN's top three bits say how the rest is protected:
0 nothing, 1 AES-128-CTR (see :mod:`openamr.collect.mbus.security`). The
payload CRC (EN 13757-4 CRC-16, least significant byte first) covers the
plaintext after it, starting with the next CI field, so it tells a right key
from a wrong one, and a payload that a gateway already decrypted from one
that is still encrypted.
"""

from __future__ import annotations

from typing import NamedTuple, NoReturn

from openamr.collect.mbus._reader import Reader
from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.identity import device_from_link_address
from openamr.collect.mbus.model import Device

ELL_SHORT = 0x8C
ELL_SESSION = 0x8D
ELL_RECEIVER = 0x8E
ELL_RECEIVER_SESSION = 0x8F
ELL_CIS = frozenset({ELL_SHORT, ELL_SESSION, ELL_RECEIVER, ELL_RECEIVER_SESSION})
ELL_VARIABLE = 0x86  # ELL V, variable fields: not read

ENCRYPTION_NONE = 0
ENCRYPTION_AES_CTR = 1


class ExtendedLinkLayer(NamedTuple):
    """One ELL's fields; ``body`` is what follows them, still encrypted if it was.

    A named tuple, as :class:`openamr.collect.mbus.link.LinkFrame`: one per telegram.
    """

    ci: int
    communication_control: int
    access_number: int
    receiver: Device | None
    session_number: bytes | None  # the four SN bytes as sent
    body: bytes  # for 8D/8F: payload CRC, then CI and the rest

    @property
    def encryption(self) -> int:
        """The SN's encryption field: 0 none, 1 AES-128-CTR, others reserved."""
        if self.session_number is None:
            return ENCRYPTION_NONE
        return int.from_bytes(self.session_number, "little") >> 29

    @property
    def has_payload_crc(self) -> bool:
        return self.session_number is not None


def read_ell(ci: int, payload: bytes) -> ExtendedLinkLayer:
    """The ELL announced by ``ci`` at the start of ``payload``. Raises BadFrame."""
    with_receiver = ci in (ELL_RECEIVER, ELL_RECEIVER_SESSION)
    with_session = ci in (ELL_SESSION, ELL_RECEIVER_SESSION)
    end = 2 + 8 * with_receiver + 4 * with_session
    if len(payload) < end:
        _cut_short(ci, payload, with_receiver=with_receiver)
    receiver = device_from_link_address(payload[2:10]) if with_receiver else None
    return ExtendedLinkLayer(
        ci=ci,
        communication_control=payload[0],
        access_number=payload[1],
        receiver=receiver,
        session_number=payload[end - 4 : end] if with_session else None,
        body=payload[end:],
    )


def _cut_short(ci: int, payload: bytes, *, with_receiver: bool) -> NoReturn:
    """Raise the BadFrame that names the field inside which a too short ELL ends."""
    reader = Reader(payload, f"extended link layer (CI {ci:02X})")
    reader.take(1, "communication control")
    reader.take(1, "access number")
    if with_receiver:
        reader.take(8, "receiver address")
    reader.take(4, "session number")  # only an ELL with a session number gets here
    raise AssertionError(f"an ELL (CI {ci:02X}) of {len(payload)} bytes is not short")


def payload_after_crc(body: bytes) -> bytes | None:
    """The bytes after the payload CRC if the CRC matches them, else None."""
    if len(body) < 3:
        return None
    if int.from_bytes(body[:2], "little") != crc16_en13757(body[2:]):
        return None
    return body[2:]
