"""The decoder's one entry point: bytes from a gateway in, a :class:`Telegram` out.

A telegram is read layer by layer, outside in::

    link        wired long frame (EN 13757-2) or wireless frame A/B (EN 13757-4)
    ELL         CI 8C-8F: communication control, access number, AES-CTR (EN 13757-4)
    AFL         CI 90: message counter and MAC for mode 7 (EN 13757-7)
    TPL         CI 72/73/78/79/7A/7B: header, security mode 5 or 7 (EN 13757-7)
    APL         records (EN 13757-3), compact frame, or a manufacturer family's payload

A payload counts as plaintext only when it proves it: the ELL payload CRC
matches, or the application data starts with 2F2F. A wrong key therefore
raises :class:`WrongKey`, never yields a reading. Payloads a gateway already
decrypted (the header still says encrypted) are accepted only with
``allow_pre_decrypted``.

Every failure is an :class:`UnableToDecodeTelegram`, carrying the sender's
:class:`Device` once the header naming it has been read; errors inside the
application layer or a family are wrapped with the layer named. Errors raised
by the caller's ``keys`` function are the caller's and pass through unchanged.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import NoReturn

from openamr.collect.decoders import Family, family_for, family_status_bits
from openamr.collect.mbus.afl import AFL_CI, AuthenticationLayer, read_afl
from openamr.collect.mbus.compact import LayoutCache, parse_compact
from openamr.collect.mbus.ell import (
    ELL_CIS,
    ELL_VARIABLE,
    ENCRYPTION_AES_CTR,
    ENCRYPTION_NONE,
    ExtendedLinkLayer,
    payload_after_crc,
    read_ell,
)
from openamr.collect.mbus.identity import describe
from openamr.collect.mbus.link import LinkFrame, read_frame
from openamr.collect.mbus.model import (
    BadFrame,
    Device,
    KeyNeeded,
    Record,
    Telegram,
    UnableToDecodeTelegram,
    UnsupportedTelegram,
    WrongKey,
)
from openamr.collect.mbus.records import parse_records
from openamr.collect.mbus.security import (
    BLOCK,
    KEY_SIZE,
    PLAINTEXT_MARK,
    aes_cmac,
    decrypt_ell_ctr,
    decrypt_mode5,
    decrypt_mode7,
    mode7_keys,
)
from openamr.collect.mbus.transport import (
    APPLICATION_CIS,
    MANUFACTURER_CIS,
    MODE_AES_CBC_IV,
    MODE_AES_CBC_IV0,
    MODE_NONE,
    Content,
    HeaderKind,
    TransportHeader,
    application_error,
    read_header,
    security_mode_name,
    status_flags,
)

logger = logging.getLogger(__name__)

KeyLookup = Callable[[Device], bytes | None]

# Wired CI fields of EN 1434-3 that EN 13757-7 later reused or dropped.
_WIRED_LEGACY_CIS = {
    0x73: "fixed data structure",
    0x76: "variable data structure, most significant byte first",
    0x77: "fixed data structure, most significant byte first",
}
_KDF_A = 1


def decode(
    data: bytes,
    *,
    keys: KeyLookup | None = None,
    key: bytes | None = None,
    layouts: LayoutCache | None = None,
    allow_pre_decrypted: bool = False,
) -> Telegram:
    """Decode one wired or wireless M-Bus telegram.

    ``keys`` is asked for a meter's AES-128 key once the header naming the
    meter has been read; ``key`` is the shorthand for one known key and wins
    over ``keys``. ``layouts`` holds the record layouts of full frames: every
    full frame is learnt into it, and compact frames are read with it.
    ``allow_pre_decrypted`` accepts a payload whose header says encrypted but
    which is already plaintext (it starts with 2F2F, or its ELL payload CRC
    matches as it is).

    Raises an :class:`UnableToDecodeTelegram` subclass: :class:`BadFrame`,
    :class:`KeyNeeded`, :class:`WrongKey`, :class:`UnknownLayout` or
    :class:`UnsupportedTelegram`, and the base class for an application error
    the meter itself reports.
    """
    decoder = _Decoder(keys=keys, key=key, layouts=layouts, allow_pre_decrypted=allow_pre_decrypted)
    try:
        return decoder.run(bytes(data))
    except _KeyLookupFailed as failure:
        raise failure.original from None
    except UnableToDecodeTelegram:
        raise
    except Exception as exc:
        # A defect in the protocol layers themselves: logged once, and still a
        # rejected telegram rather than a crash of the collector.
        logger.warning("decoder defect", exc_info=True)
        raise UnsupportedTelegram(f"the decoder failed: {type(exc).__name__}: {exc}") from exc


def decode_hex(
    text: str,
    *,
    keys: KeyLookup | None = None,
    key: bytes | None = None,
    layouts: LayoutCache | None = None,
    allow_pre_decrypted: bool = False,
) -> Telegram:
    """:func:`decode` for a telegram written in hex; spaces, underscores and 0x are ignored."""
    return decode(
        parse_hex(text),
        keys=keys,
        key=key,
        layouts=layouts,
        allow_pre_decrypted=allow_pre_decrypted,
    )


_HEX_NOISE = re.compile(r"(?<![0-9A-Fa-f])0[xX]|[\s_:]")


def parse_hex(text: str) -> bytes:
    """The bytes of hex text as people paste it. Raises BadFrame."""
    cleaned = _HEX_NOISE.sub("", text)
    if len(cleaned) % 2:
        raise BadFrame(f"odd number of hex digits ({len(cleaned)})")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next((char for char in cleaned if char not in "0123456789abcdefABCDEF"), "?")
        raise BadFrame(f"not hexadecimal: {bad!r} in the telegram") from None


class _KeyLookupFailed(Exception):
    """Carries an exception of the caller's ``keys`` function past the decoder's wrapping."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


@dataclass(slots=True)
class _Path:
    """What the outer layers found, for the layers inside them."""

    link: LinkFrame
    security: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ell_access_number: int | None = None
    afl: AuthenticationLayer | None = None
    marked_plaintext: bool = False  # the TPL payload proved itself plaintext with 2F2F


class _Decoder:
    def __init__(
        self,
        *,
        keys: KeyLookup | None,
        key: bytes | None,
        layouts: LayoutCache | None,
        allow_pre_decrypted: bool,
    ) -> None:
        self._keys = keys
        self._key = key
        self._layouts = layouts
        self._allow_pre_decrypted = allow_pre_decrypted
        self._looked_up: dict[Device, tuple[bytes | None]] = {}  # the answer, once asked

    def run(self, data: bytes) -> Telegram:
        frame = read_frame(data)
        path = _Path(link=frame, notes=list(frame.notes))
        if frame.link == "mbus":
            return self._wired(path)
        return self._wireless(path)

    # -- layers --------------------------------------------------------------

    def _wired(self, path: _Path) -> Telegram:
        ci = path.link.ci
        if ci in _WIRED_LEGACY_CIS:
            raise UnsupportedTelegram(
                f"CI {ci:02X} ({_WIRED_LEGACY_CIS[ci]}, EN 1434-3) is not supported"
            )
        kind, content = _application_ci(ci, "wired M-Bus")
        if kind is not HeaderKind.LONG and content is not Content.ERROR:
            raise UnsupportedTelegram(
                f"CI {ci:02X} on wired M-Bus has no long header, so nothing names the meter"
            )
        return self._transport(path, ci, kind, content, path.link.payload)

    def _wireless(self, path: _Path) -> Telegram:
        ci, payload = path.link.ci, path.link.payload
        sender = path.link.sender
        assert sender is not None  # every wireless frame names its sender
        try:
            if ci in ELL_CIS:
                ci, payload = self._open_ell(path, ci, payload, sender)
            if ci == AFL_CI:
                path.afl, after = read_afl(payload)
                if not after:
                    raise BadFrame("the telegram ends after its AFL, before a CI field")
                ci, payload = after[0], after[1:]
            if ci == ELL_VARIABLE:
                raise UnsupportedTelegram("an ELL with variable fields (CI 86) is not supported")
            if ci in ELL_CIS or ci == AFL_CI:
                raise UnsupportedTelegram(f"a second ELL or AFL (CI {ci:02X}) is not supported")
            if ci in MANUFACTURER_CIS:
                return self._manufacturer(path, ci, payload, sender)
            kind, content = _application_ci(ci, "wireless M-Bus")
        except UnableToDecodeTelegram as exc:
            _name_sender(exc, sender)
            raise
        return self._transport(path, ci, kind, content, payload)

    def _open_ell(self, path: _Path, ci: int, payload: bytes, sender: Device) -> tuple[int, bytes]:
        ell = read_ell(ci, payload)
        path.ell_access_number = ell.access_number
        if ell.receiver is not None:
            path.notes.append(f"addressed to {describe(ell.receiver)}")
        body = ell.body
        if ell.has_payload_crc:
            body = self._ell_plaintext(path, ell, sender)
        if not body:
            raise BadFrame(f"the telegram ends after its ELL (CI {ci:02X}), before a CI field")
        return body[0], body[1:]

    def _ell_plaintext(self, path: _Path, ell: ExtendedLinkLayer, sender: Device) -> bytes:
        encryption, body = ell.encryption, ell.body
        if encryption == ENCRYPTION_NONE:
            plain = payload_after_crc(body)
            if plain is None:
                raise BadFrame("the ELL payload CRC does not match the payload")
            return plain
        if encryption != ENCRYPTION_AES_CTR:
            raise UnsupportedTelegram(f"ELL encryption {encryption} is reserved")
        key = self._key_for(sender)
        if key is not None:
            assert ell.session_number is not None
            decrypted = decrypt_ell_ctr(
                key,
                address=path.link.header[2:10],
                communication_control=ell.communication_control,
                session_number=ell.session_number,
                data=body,
            )
            plain = payload_after_crc(decrypted)
            if plain is not None:
                path.security.append("ell ctr")
                return plain
        already = payload_after_crc(body) if self._allow_pre_decrypted else None
        if already is not None:
            path.security.append("pre-decrypted")
            path.notes.append("ELL payload already decrypted by the gateway (its CRC matches)")
            return already
        if key is None:
            raise KeyNeeded(f"the ELL payload is AES-CTR encrypted; no key for {describe(sender)}")
        raise WrongKey(
            f"the ELL payload CRC does not match after decryption: the key for "
            f"{describe(sender)} is wrong"
        )

    def _transport(
        self, path: _Path, ci: int, kind: HeaderKind, content: Content, payload: bytes
    ) -> Telegram:
        try:
            header, data = read_header(kind, payload)
        except UnableToDecodeTelegram as exc:
            _name_sender(exc, path.link.sender)
            raise
        device = header.meter or path.link.sender
        if device is None:
            # Only a wired application error can get here: CI 70 names no meter.
            raise UnableToDecodeTelegram(
                f"the meter reports an application error: {_first_byte_error(data)}"
            )
        try:
            if header.meter is not None and path.link.sender not in (None, header.meter):
                assert path.link.sender is not None
                path.notes.append(f"sent through {describe(path.link.sender)}")
            if content in _WITHOUT_READINGS:
                _reject_content(content, ci, device, data)
            application = self._open_transport(path, ci, header, data, device)
            return self._application(path, ci, header, content, application, device)
        except UnableToDecodeTelegram as exc:
            _name_sender(exc, device)
            raise

    def _open_transport(
        self, path: _Path, ci: int, header: TransportHeader, data: bytes, device: Device
    ) -> bytes:
        mode = header.security_mode
        if mode == MODE_NONE:
            return data
        if mode not in (MODE_AES_CBC_IV, MODE_AES_CBC_IV0):
            raise UnsupportedTelegram(
                f"security mode {mode} ({security_mode_name(mode)}) is not supported"
            )
        blocks = header.encrypted_blocks
        size = blocks * BLOCK
        if size == 0:
            path.notes.append(f"security mode {mode} with no encrypted block")
            return data
        if size > len(data):
            raise BadFrame(
                f"the configuration field says {blocks} encrypted blocks ({size} bytes), "
                f"{len(data)} bytes follow the header"
            )
        encrypted, plain_tail = data[:size], data[size:]
        if plain_tail:
            path.notes.append(f"{blocks} blocks encrypted, {len(plain_tail)} bytes plaintext")
        key = self._key_for(device)
        wrong = "the decrypted payload does not start with 2F2F"
        if key is not None:
            decrypted: bytes | None
            if mode == MODE_AES_CBC_IV:
                decrypted = self._mode5(header, path, key, encrypted)
            else:
                decrypted = self._mode7(path, ci, header, data, key, encrypted)
                if decrypted is None:
                    wrong = "the AFL MAC does not verify (or the telegram was altered)"
            if decrypted is not None and decrypted.startswith(PLAINTEXT_MARK):
                path.security.append(f"mode {mode}")
                path.marked_plaintext = True
                return decrypted + plain_tail
        if self._allow_pre_decrypted and encrypted.startswith(PLAINTEXT_MARK):
            path.security.append("pre-decrypted")
            path.marked_plaintext = True
            path.notes.append("payload already decrypted by the gateway (it starts with 2F2F)")
            return data
        if key is None:
            raise KeyNeeded(
                f"security mode {mode} encrypted payload; no key for {describe(device)}"
            )
        raise WrongKey(f"{wrong}: the key for {describe(device)} is wrong")

    def _mode5(self, header: TransportHeader, path: _Path, key: bytes, data: bytes) -> bytes:
        address = header.meter_address or path.link.header[2:10]
        assert header.access_number is not None
        return decrypt_mode5(key, address=address, access_number=header.access_number, data=data)

    def _mode7(
        self,
        path: _Path,
        ci: int,
        header: TransportHeader,
        data: bytes,
        key: bytes,
        encrypted: bytes,
    ) -> bytes | None:
        """The decrypted blocks, or None if the AFL MAC shows the key is wrong."""
        afl = path.afl
        if afl is None or afl.message_counter is None:
            raise BadFrame("security mode 7 needs the AFL's message counter, and it is missing")
        if header.key_derivation != _KDF_A:
            raise UnsupportedTelegram(
                f"security mode 7 key derivation {header.key_derivation} is not supported"
            )
        meter_id = (header.meter_address or path.link.header[2:10])[2:6]
        encryption_key, mac_key = mode7_keys(
            key, message_counter=afl.message_counter, meter_id=meter_id
        )
        if afl.mac is not None:
            covered = afl.mac_prefix + bytes([ci]) + header.raw + data
            if aes_cmac(mac_key, covered)[: len(afl.mac)] != afl.mac:
                return None
            path.notes.append("AFL MAC verified")
        return decrypt_mode7(encryption_key, encrypted)

    def _application(
        self,
        path: _Path,
        ci: int,
        header: TransportHeader,
        content: Content,
        application: bytes,
        device: Device,
    ) -> Telegram:
        family = _family(device, ci)
        records: tuple[Record, ...] = ()
        family_flags: tuple[str, ...] = ()
        signature = None
        taken = None
        if family is not None:
            taken = self._family_payload(path, family, device, ci, header.raw + application)
        if taken is not None:
            records, family_flags = taken
        else:
            if content is Content.RECORDS:
                records = self._records(application, device, path)
            elif content is Content.COMPACT:
                compact = _without_mark(application, path)
                signature = int.from_bytes(compact[:2], "little") if len(compact) >= 2 else None
                records = self._compact(compact, device)
            if family is not None:
                try:
                    records, family_flags = family.interpret(device, records)
                except _PASSED_ON:
                    raise
                except Exception as exc:
                    raise _foreign(f"family {family.name} (interpret)", exc) from exc
        status_names: Mapping[int, str] = {}
        if family is not None and header.status is not None:
            try:
                status_names = family_status_bits(family, device)
            except _PASSED_ON:
                raise
            except Exception as exc:
                raise _foreign(f"family {family.name} (status bits)", exc) from exc
        return _new_telegram(
            device,
            path.link.link,
            ci,
            header.access_number if header.access_number is not None else path.ell_access_number,
            header.status,
            " + ".join(path.security) or "none",
            tuple(records),
            _unique(status_flags(header.status, status_names) + tuple(family_flags)),
            signature,
            None if family is None else family.name,
            tuple(path.notes),
        )

    def _manufacturer(self, path: _Path, ci: int, payload: bytes, device: Device) -> Telegram:
        family = _family(device, ci)
        if family is None:
            raise UnsupportedTelegram(
                f"manufacturer-specific CI {ci:02X} from {describe(device)}: no family reads it"
            )
        taken = self._family_payload(path, family, device, ci, payload)
        if taken is None:
            raise UnsupportedTelegram(
                f"family {family.name} does not read CI {ci:02X} from {describe(device)}"
            )
        records, flags = taken
        return _new_telegram(
            device,
            path.link.link,
            ci,
            path.ell_access_number,
            None,
            " + ".join([*path.security, "manufacturer specific"]),
            tuple(records),
            _unique(tuple(flags)),
            None,
            family.name,
            tuple(path.notes),
        )

    # -- the layers others own -------------------------------------------------

    def _family_payload(
        self, path: _Path, family: Family, device: Device, ci: int, payload: bytes
    ) -> tuple[tuple[Record, ...], tuple[str, ...]] | None:
        key = self._key_for(device)
        try:
            return family.decode_payload(device, ci, payload, key=key, header=path.link.header)
        except _PASSED_ON:
            raise
        except Exception as exc:
            raise _foreign(f"family {family.name}", exc) from exc

    def _records(self, application: bytes, device: Device, path: _Path) -> tuple[Record, ...]:
        try:
            records = parse_records(application)
        except _PASSED_ON:
            raise
        except Exception as exc:
            raise _foreign("the application layer (EN 13757-3 records)", exc) from exc
        if self._layouts is not None:
            try:
                self._layouts.learn(device, application)
            except Exception as exc:  # a layout not learnt must not cost the reading
                logger.debug("layout of %s not learnt", describe(device), exc_info=True)
                path.notes.append(f"layout not learnt: {exc}")
        return records

    def _compact(self, compact: bytes, device: Device) -> tuple[Record, ...]:
        layouts = self._layouts if self._layouts is not None else LayoutCache()
        try:
            return parse_compact(device, compact, layouts)
        except _PASSED_ON:
            raise
        except Exception as exc:
            raise _foreign("the compact frame layer", exc) from exc

    def _key_for(self, device: Device) -> bytes | None:
        if self._key is not None:
            return _checked_key(self._key, None)
        if self._keys is None:
            return None
        looked_up = self._looked_up.get(device)
        if looked_up is None:
            try:
                looked_up = (self._keys(device),)
            except Exception as exc:
                raise _KeyLookupFailed(exc) from exc
            self._looked_up[device] = looked_up
        found = looked_up[0]
        return None if found is None else _checked_key(found, device)


_TelegramMaker = Callable[
    [
        Device,
        str,
        int,
        int | None,
        int | None,
        str,
        tuple[Record, ...],
        tuple[str, ...],
        int | None,
        str | None,
        tuple[str, ...],
    ],
    Telegram,
]


def _telegram_factory() -> _TelegramMaker:
    """A constructor for :class:`Telegram` that sets its slots directly.

    As ``records._record_factory`` does for Record, and for the same reason: a
    frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, and with eleven fields that cost several times the
    rest of making a telegram's result. The fields are taken in their order in
    the model; if the model changes, this falls back to its constructor.
    """
    names = (
        "device",
        "link",
        "ci",
        "access_number",
        "status",
        "security",
        "records",
        "flags",
        "format_signature",
        "family",
        "notes",
    )
    if tuple(item.name for item in fields(Telegram)) != names or "__slots__" not in vars(Telegram):
        return Telegram  # pragma: no cover - the model changed; correct, only slower
    slots = vars(Telegram)
    set_device, set_link, set_ci, set_access_number, set_status, set_security = (
        slots[name].__set__ for name in names[:6]
    )
    set_records, set_flags, set_signature, set_family, set_notes = (
        slots[name].__set__ for name in names[6:]
    )
    new = object.__new__

    def make(
        device: Device,
        link: str,
        ci: int,
        access_number: int | None,
        status: int | None,
        security: str,
        records: tuple[Record, ...],
        flags: tuple[str, ...],
        format_signature: int | None,
        family: str | None,
        notes: tuple[str, ...],
    ) -> Telegram:
        telegram: Telegram = new(Telegram)
        set_device(telegram, device)
        set_link(telegram, link)
        set_ci(telegram, ci)
        set_access_number(telegram, access_number)
        set_status(telegram, status)
        set_security(telegram, security)
        set_records(telegram, records)
        set_flags(telegram, flags)
        set_signature(telegram, format_signature)
        set_family(telegram, family)
        set_notes(telegram, notes)
        return telegram

    return make


_new_telegram = _telegram_factory()


# What some CI fields announce instead of readings: one look-up rules them out.
_WITHOUT_READINGS = frozenset({Content.ERROR, Content.ALARM, Content.FORMAT})


def _reject_content(content: Content, ci: int, device: Device, data: bytes) -> NoReturn:
    if content is Content.ERROR:
        raise UnableToDecodeTelegram(
            f"{describe(device)} reports an application error: {_first_byte_error(data)}"
        )
    if content is Content.ALARM:
        raise UnsupportedTelegram(f"alarm telegrams (CI {ci:02X}) are not decoded")
    raise UnsupportedTelegram(f"format frames (CI {ci:02X}) are not decoded")


def _application_ci(ci: int, link: str) -> tuple[HeaderKind, Content]:
    try:
        return APPLICATION_CIS[ci]
    except KeyError:
        raise UnsupportedTelegram(f"CI field {ci:02X} is not supported on {link}") from None


def _family(device: Device, ci: int) -> Family | None:
    try:
        return family_for(device, ci)
    except _PASSED_ON:
        raise
    except Exception as exc:
        raise _foreign("the family registry", exc) from exc


def _checked_key(key: bytes, device: Device | None) -> bytes:
    """The key as bytes; WrongKey unless AES-128. ``device`` owns it; None: the key given."""
    if len(key) != KEY_SIZE:
        what = "the key given" if device is None else f"the key of {describe(device)}"
        raise WrongKey(f"{what} is {len(key)} bytes; AES-128 needs {KEY_SIZE}")
    return bytes(key)


def _without_mark(application: bytes, path: _Path) -> bytes:
    """A decrypted compact frame without the 2F2F that proved the decryption."""
    if path.marked_plaintext and application.startswith(PLAINTEXT_MARK):
        return application[len(PLAINTEXT_MARK) :]
    return application


def _first_byte_error(data: bytes) -> str:
    return application_error(data[0] if data else None)


def _unique(flags: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(flags))


# Plain try/except rather than context managers below: a context manager costs
# an object and two calls per use, and a telegram passes through a dozen uses.


def _name_sender(rejection: UnableToDecodeTelegram, device: Device | None) -> None:
    """Attach the sender to a rejection raised once a header named it, unless it names one."""
    if rejection.device is None:
        rejection.device = device


# What another layer may raise as it is: our rejections, and the caller's key lookup failing.
_PASSED_ON = (UnableToDecodeTelegram, _KeyLookupFailed)


def _foreign(layer: str, exc: Exception) -> UnableToDecodeTelegram:
    """The rejection that names the layer for anything else it raised.

    For ``except _PASSED_ON: raise`` followed by
    ``except Exception as exc: raise _foreign(layer, exc) from exc``. A lookup,
    value or arithmetic error means the layer could not read the data; any
    other exception is a defect of the layer, logged here with its traceback.
    """
    if isinstance(exc, (LookupError, ValueError, ArithmeticError, struct.error)):
        return BadFrame(f"{layer} could not read the data: {type(exc).__name__}: {exc}")
    logger.warning("%s failed", layer, exc_info=True)
    return UnsupportedTelegram(f"{layer} failed: {type(exc).__name__}: {exc}")
