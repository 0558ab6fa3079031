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

A meter keeps its key, and setting up a cipher for a key costs more than
decrypting a telegram, so the CBC and CTR modes of a meter's key are built
here from the AES block cipher of that key, kept (:class:`_BlockCipher`):
CBC decryption is each block decrypted, XOR the block before it (the IV
for the first); CTR is the data XOR the encrypted counter blocks.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from openamr.collect.mbus._cache import BoundedCache

BLOCK = 16
KEY_SIZE = 16
PLAINTEXT_MARK = b"\x2f\x2f"  # the two filler bytes that open every encrypted APL

_DERIVE_ENCRYPTION_FROM_METER = 0x00
_DERIVE_MAC_FROM_METER = 0x01
_HOP_BIT = 0x10


def decrypt_mode5(key: bytes, *, address: bytes, access_number: int, data: bytes) -> bytes:
    """Mode 5: AES-128-CBC with the IV from the meter's address and the access number."""
    iv = address + bytes([access_number]) * 8
    if len(iv) == BLOCK and data and not len(data) % BLOCK:
        return _block_cipher(key).decrypt_cbc(iv, data)
    return _cbc_decrypt(key, iv, data)  # raises as the cipher does for what is not whole blocks


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
    if len(counter) == BLOCK:
        return _block_cipher(key).crypt_ctr(counter, data)
    decryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()  # raises
    return decryptor.update(data) + decryptor.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """The 16-byte AES-CMAC of ``data``."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


class _BlockCipher:
    """AES-128 of one key, block by block, and CBC decryption and CTR built on it.

    Kept per key (:func:`_block_cipher`). An ECB context holds nothing from
    one call to the next when given whole blocks, so one serves every
    telegram of the meter; each is made when first needed, and a lock keeps
    two threads from using one at once.
    """

    __slots__ = ("_cipher", "_decryptor", "_encryptor", "_lock")

    def __init__(self, key: bytes) -> None:
        # ECB is the bare block cipher here: CBC and CTR are built on it below.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305  # nosec B305: the bare block cipher
        self._decryptor: CipherContext | None = None
        self._encryptor: CipherContext | None = None
        self._lock = threading.Lock()

    def decrypt_cbc(self, iv: bytes, data: bytes) -> bytes:
        """AES-CBC decryption of ``data``, whole blocks."""
        with self._lock:
            if self._decryptor is None:
                self._decryptor = self._cipher.decryptor()
            decrypted = self._decryptor.update(data)
        chained = iv + data[:-BLOCK]  # what each block is XORed with
        return _xor(decrypted, chained)

    def crypt_ctr(self, counter: bytes, data: bytes) -> bytes:
        """AES-CTR of ``data`` from the initial counter block ``counter`` (128-bit, big-endian)."""
        start = int.from_bytes(counter, "big")
        blocks = -(-len(data) // BLOCK)
        counters = b"".join(
            ((start + index) % _COUNTER_WRAP).to_bytes(BLOCK, "big") for index in range(blocks)
        )
        with self._lock:
            if self._encryptor is None:
                self._encryptor = self._cipher.encryptor()
            keystream = self._encryptor.update(counters)
        return _xor(data, keystream[: len(data)])


_COUNTER_WRAP = 1 << (8 * BLOCK)
# The block ciphers of the keys last used: one per meter in a collector's network.
_BLOCK_CIPHERS: BoundedCache[bytes, _BlockCipher] = BoundedCache(4096)


def _block_cipher(key: bytes) -> _BlockCipher:
    """The block cipher of ``key``, kept by the key's bytes. Raises ValueError for a bad key."""
    key = bytes(key)
    cipher = _BLOCK_CIPHERS.get(key)
    if cipher is None:
        cipher = _BLOCK_CIPHERS.keep(key, _BlockCipher(key))
    return cipher


def _xor(left: bytes, right: bytes) -> bytes:
    """The bytewise XOR of two byte strings of one length."""
    size = len(left)
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(size, "big")
