"""Fuzz the M-Bus decoder with atheris: any bytes give a Telegram or an UnableToDecodeTelegram.

Run it from the repository root, optionally with a corpus directory (the test
writes the shared vectors into one):

    .venv/bin/python fuzz/decode_fuzz.py -max_total_time=20 [CORPUS_DIR]

The first input byte chooses the options, so that keyed decryption, the
pre-decrypted path and the layout cache are all reached; the rest is the
telegram. Anything other than a decoded telegram or a rejection is a crash.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports():
    from openamr.collect.mbus.compact import LayoutCache
    from openamr.collect.mbus.model import UnableToDecodeTelegram
    from openamr.collect.mbus.telegram import decode

# Keys of the shared vectors (facts from their sources), so that fuzzed
# variants of encrypted vectors get through decryption now and then.
_KEYS = (
    None,
    bytes.fromhex("28F64A24988064A079AA2C807D6102AE"),  # Kamstrup ELL AES-CTR
    bytes.fromhex("0102030405060708090A0B0C0D0E0F11"),  # OMS Annex N, mode 5
    bytes.fromhex("000102030405060708090A0B0C0D0E0F"),  # OMS Annex N, mode 7
)
_LAYOUTS = LayoutCache()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    options, telegram = data[0], data[1:]
    try:
        decode(
            telegram,
            key=_KEYS[options % len(_KEYS)],
            layouts=_LAYOUTS,
            allow_pre_decrypted=bool(options & 0x04),
        )
    except UnableToDecodeTelegram:
        return


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
