"""AES-128 as wireless M-Bus and OMS use it: the cipher steps, without any policy.

- Security mode 5 (EN 13757-7): AES-128-CBC over the first N blocks of the
  application data; the IV is the meter's address (M, ID, version, device
  type in link-layer order) followed by the access number eight times.
- Security mode 7 (OMS vol. 2, EN 13757-7): AES-128-CBC with a zero IV under
  an ephemeral key. Key derivation function A makes it with AES-CMAC over a
  derivation constant (00 to encrypt from the meter, 01 for its MAC), the
  AFL message counter, the meter's identification number and padding 07. The
  AFL MAC is the CMAC under the MAC key, cut to the AFL's length.
- ELL AES-128-CTR (EN 13757-4, Kamstrup's C1 meters among others): the
  counter block is M and A of the link layer, the ELL communication control
  without its hop bit (a repeater sets it after encryption), the session
  number, frame number 0 and block counter 0.

Deciding whether a result is plaintext (2F2F, the ELL payload CRC) is the
caller's part: see :mod:`openamr.collect.mbus.telegram`.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

BLOCK = 16
KEY_SIZE = 16
PLAINTEXT_MARK = b"\x2f\x2f"  # the two filler bytes that open every encrypted APL

_DERIVE_ENCRYPTION_FROM_METER = 0x00
_DERIVE_MAC_FROM_METER = 0x01
_HOP_BIT = 0x10


def decrypt_mode5(key: bytes, *, address: bytes, access_number: int, data: bytes) -> bytes:
    """Mode 5: AES-128-CBC with the IV from the meter's address and the access number."""
    return _cbc_decrypt(key, address + bytes([access_number]) * 8, data)


def mode7_keys(key: bytes, *, message_counter: bytes, meter_id: bytes) -> tuple[bytes, bytes]:
    """Mode 7's ephemeral encryption and MAC keys (KDF-A) for one message counter."""
    tail = message_counter + meter_id + b"\x07" * 7
    return (
        aes_cmac(key, bytes([_DERIVE_ENCRYPTION_FROM_METER]) + tail),
        aes_cmac(key, bytes([_DERIVE_MAC_FROM_METER]) + tail),
    )


def decrypt_mode7(encryption_key: bytes, data: bytes) -> bytes:
    """Mode 7: AES-128-CBC with a zero IV under the ephemeral encryption key."""
    return _cbc_decrypt(encryption_key, bytes(BLOCK), data)


def decrypt_ell_ctr(
    key: bytes,
    *,
    address: bytes,
    communication_control: int,
    session_number: bytes,
    data: bytes,
) -> bytes:
    """The ELL's AES-128-CTR, counter block from the link address, CC and session number."""
    counter = (
        address
        + bytes([communication_control & ~_HOP_BIT & 0xFF])
        + session_number
        + bytes(3)  # frame number (2) and block counter (1), both 0 for a whole message
    )
    decryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """The 16-byte AES-CMAC of ``data``."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()
