"""Telegrams in: store first, then decode, file under the meter, and hand readings to the core.

The life of a telegram::

    gateway (HTTP batch or MQTT message)
      -> store_telegrams        durable, deduplicated by digest; only now acknowledged
      -> decode                 with the meter's key, looked up by manufacturer and id
      -> register readings      through the core's ReadingIngest, into hourly values
      -> outcome                decoded / unassigned / failed with cause and reason

Nothing is dropped. A telegram whose meter the register does not know is
`unassigned`, and its device is listed for operations to attach. One that
cannot be decoded is `failed` with the decoder's cause (`key_needed`,
`wrong_key`, `unknown_layout`, `unsupported`, `bad_frame`). Both are tried
again by :func:`reprocess_fixed` once the cause is gone: the meter is in the
register, its key is set, a full frame of a compact-frame meter was decoded, or
the decoder's version went up.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.mbus import DECODER_VERSION
from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.identity import device_from_link_address, device_from_long_header
from openamr.collect.mbus.link import looks_wired
from openamr.collect.mbus.model import Device, Telegram, UnableToDecodeTelegram, UnknownLayout
from openamr.collect.mbus.telegram import decode
from openamr.collect.mbus.transport import APPLICATION_CIS, HeaderKind
from openamr.collect.readings import ReadingIngest, ReadingInput
from openamr.collect.telegram_readings import read_clock, register_values
from openamr.db import durable_transaction
from openamr.guard.keyring import Keyring, UnableToOpenKey
from openamr.settings import Settings
from openamr.store import keys as key_store
from openamr.store import telegrams as store
from openamr.store.readings import find_meters
from openamr.timeutil import utc_now
from openamr.units import Quantity

logger = logging.getLogger(__name__)

# How long a process trusts what it looked up about a device (its meter, its
# key). A key set through the API reaches a running collector within this time;
# telegrams that failed meanwhile are picked up by reprocess_fixed.
LOOKUP_TTL_S = 30.0
# Devices whose facts a process keeps at most; past it they are looked up afresh.
_DEVICES_KEPT = 200_000
# Digests of frames stored by this process that it keeps, to know repeats without decoding.
_FRAMES_KEPT = 100_000
# Where a frame names its sender: a wireless link header is L, C, M (2), A (6); a
# wired long frame is 68 L L 68 C A CI, then the long header (ID, M, version, type).
_LINK_HEADER = 10
_WIRED_CI = 6
_WIRED_LONG_HEADER_END = _WIRED_CI + 1 + 8


@dataclass
class TelegramReport:
    """What became of a batch of telegrams."""

    received: int = 0
    duplicates: int = 0
    decoded: int = 0
    unassigned: int = 0
    failed: int = 0
    readings: int = 0
    readings_rejected: int = 0
    causes: dict[str, int] = field(default_factory=dict)

    def add(self, other: TelegramReport) -> None:
        self.received += other.received
        self.duplicates += other.duplicates
        self.decoded += other.decoded
        self.unassigned += other.unassigned
        self.failed += other.failed
        self.readings += other.readings
        self.readings_rejected += other.readings_rejected
        for cause, count in other.causes.items():
            self.causes[cause] = self.causes.get(cause, 0) + count

    def count(self, outcome: store.Outcome) -> None:
        """Count one telegram's outcome."""
        cause = outcome.cause or outcome.state
        self.causes[cause] = self.causes.get(cause, 0) + 1
        if outcome.state == store.DECODED:
            self.decoded += 1
        elif outcome.state == store.UNASSIGNED:
            self.unassigned += 1
        else:
            self.failed += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "duplicates": self.duplicates,
            "decoded": self.decoded,
            "unassigned": self.unassigned,
            "failed": self.failed,
            "readings": self.readings,
            "readings_rejected": self.readings_rejected,
            "causes": dict(sorted(self.causes.items())),
        }


# What decoding one frame gave: the telegram, or the failure and the device it named.
_Decoding = tuple[Telegram | None, UnableToDecodeTelegram | None, Device | None]


@dataclass(slots=True)
class _Work:
    """What decoding and filing a customer's telegrams gave, before anything is written."""

    outcomes: list[store.Outcome] = field(default_factory=list)  # one per telegram
    hearings: list[store.Hearing | None] = field(default_factory=list)  # one per telegram
    readings_in: list[ReadingInput] = field(default_factory=list)
    learnt: set[tuple[str, str]] = field(default_factory=set)  # devices decoded anew here
    readings: int = 0  # stored, revised or duplicate
    readings_rejected: int = 0


@dataclass(frozen=True, slots=True)
class _DeviceFacts:
    meter: store.MbusMeter | None
    key: bytes | None
    quantity: Quantity | None  # of the meter's register; None: no register to read
    zone: ZoneInfo  # where the meter's clock is read
    looked_up: float


class TelegramIngest:
    """Stores, decodes and files telegrams. One per process; it caches layouts and look-ups."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: Settings,
        keyring: Keyring | None,
        clock: Callable[[], datetime],
        layouts: LayoutCache | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.keyring = keyring
        self.clock = clock
        self.layouts = layouts if layouts is not None else LayoutCache()
        self._facts: dict[tuple[int, str, str], _DeviceFacts] = {}
        self._ingests: dict[int, tuple[float, ReadingIngest]] = {}
        # Frames (customer, digest) this process stored lately: repeats need no decoding.
        self._stored_lately: set[tuple[int, str]] = set()
        # Devices (customer, manufacturer, id) whose waiting compact frames were looked for.
        self._waited_for_layout: set[tuple[int, str, str]] = set()

    # -- in ------------------------------------------------------------------

    def receive(
        self, source: store.Gateway, items: Sequence[store.IncomingTelegram]
    ) -> TelegramReport:
        """Process a gateway's batch, then store it durably with what became of each telegram.

        Each telegram row is written once, with its outcome, in the commit that
        precedes the gateway's answer: a row inserted and then updated cost
        PostgreSQL a second row version and new entries in each of its indexes.
        Readings are stored before that commit, so a telegram recorded as
        decoded has its readings; if the process dies in between, the gateway
        was not answered and sends the batch again, and the readings count as
        duplicates. Frames this process stored lately are not processed again;
        one stored by another process is processed, and found to be a duplicate
        when it is stored (its readings are then duplicates too). Should
        processing fail, the batch is stored as `received`, for
        :meth:`reprocess_fixed`, and the error raised.
        """
        report = TelegramReport(received=len(items))
        if not items:
            return report
        now = self.clock()
        customer_id = source.customer_id
        recent = self._stored_lately
        digests = [store.digest_of(item.frame) for item in items]
        firsts: dict[str, store.IncomingTelegram] = {}
        for digest, item in zip(digests, items, strict=True):
            firsts.setdefault(digest, item)
        fresh = [
            store.StoredTelegram(0, customer_id, source.id, item.frame, item.received_at, item.rssi)
            for digest, item in firsts.items()
            if (customer_id, digest) not in recent
        ]
        try:
            work = self._work_out(customer_id, fresh, now)
            self._store_readings(customer_id, work, now)
        except Exception:
            # Keep the batch, so that a fault in processing loses nothing.
            with durable_transaction(self.engine) as conn:
                store.store_telegrams(conn, source, items)
            raise
        outcomes = {item.frame: outcome for item, outcome in zip(fresh, work.outcomes, strict=True)}
        with durable_transaction(self.engine) as conn:
            stored = store.store_telegrams(
                conn,
                source,
                items,
                outcomes=outcomes,
                decoder_version=DECODER_VERSION,
                processed_at=now,
                digests=digests,
            )
            inserted = {telegram.frame for telegram in stored.new}
            store.record_hearings(
                conn,
                [
                    hearing
                    for telegram, hearing in zip(fresh, work.hearings, strict=True)
                    if hearing is not None and telegram.frame in inserted
                ],
            )
        if len(recent) + len(firsts) > _FRAMES_KEPT:
            recent.clear()
        recent.update((customer_id, digest) for digest in firsts)
        for telegram, outcome in zip(fresh, work.outcomes, strict=True):
            if telegram.frame in inserted:
                report.count(outcome)
        report.readings, report.readings_rejected = work.readings, work.readings_rejected
        report.duplicates = stored.duplicates
        report.add(self._follow_up(customer_id, work, done={new.id for new in stored.new}))
        return report

    def process(self, telegrams: Sequence[store.StoredTelegram]) -> TelegramReport:
        """Decode stored telegrams, store their readings and record each one's outcome."""
        report = TelegramReport()
        by_customer: dict[int, list[store.StoredTelegram]] = defaultdict(list)
        for item in telegrams:
            by_customer[item.customer_id].append(item)
        for customer_id, items in by_customer.items():
            report.add(self._process_customer(customer_id, items, now=self.clock()))
        return report

    # -- the work ------------------------------------------------------------

    def _process_customer(
        self, customer_id: int, items: Sequence[store.StoredTelegram], *, now: datetime
    ) -> TelegramReport:
        work = self._work_out(customer_id, items, now)
        self._store_readings(customer_id, work, now)
        with self.engine.begin() as conn:
            store.record_outcomes(conn, work.outcomes, now=now, decoder_version=DECODER_VERSION)
            store.record_hearings(conn, [item for item in work.hearings if item is not None])
        report = TelegramReport()
        for outcome in work.outcomes:
            report.count(outcome)
        report.readings, report.readings_rejected = work.readings, work.readings_rejected
        report.add(self._follow_up(customer_id, work, done={item.id for item in items}))
        return report

    def _work_out(
        self, customer_id: int, items: Sequence[store.StoredTelegram], now: datetime
    ) -> _Work:
        """Decode and file the customer's telegrams: outcomes and hearings, in their order."""
        work = _Work()
        decoded = self._decode_all(customer_id, [item.frame for item in items], now)
        waited = self._waited_for_layout
        for item in items:
            outcome, hearing, found = self._file(customer_id, item, decoded[item.frame], now)
            work.outcomes.append(outcome)
            work.hearings.append(hearing)
            work.readings_in.extend(found)
            if outcome.manufacturer and outcome.device_id:
                device = (customer_id, outcome.manufacturer, outcome.device_id)
                if outcome.state == store.DECODED:
                    if device not in waited:
                        work.learnt.add(device[1:])
                        waited.add(device)
                elif outcome.cause == "unknown_layout":
                    waited.discard(device)
        return work

    def _store_readings(self, customer_id: int, work: _Work, now: datetime) -> None:
        """Hand the work's register readings to the core; count what became of them."""
        if not work.readings_in:
            return
        ingest = self._reading_ingest(customer_id, now)
        before = replace(ingest.report, errors=[])
        result = ingest.add_all(work.readings_in, batch_size=self.settings.ingest_batch_size)
        work.readings = (
            result.stored
            + result.revised
            + result.duplicates
            - (before.stored + before.revised + before.duplicates)
        )
        work.readings_rejected = result.rejected - before.rejected
        result.errors.clear()

    def _follow_up(self, customer_id: int, work: _Work, *, done: set[int]) -> TelegramReport:
        """Process the compact frames that waited for a full frame of the devices just decoded.

        Asked once per device and process, and again after one of its compact
        frames failed here. A frame that failed in another process meanwhile is
        found by the sweep of reprocess_fixed.
        """
        waited = self._waited_for_layout
        if len(waited) > _DEVICES_KEPT:
            waited.clear()
        if not work.learnt:
            return TelegramReport()
        waiting = self._load(
            customer_id, causes=("unknown_layout",), devices=work.learnt, exclude=done
        )
        return self.process(waiting) if waiting else TelegramReport()

    def _decode_all(
        self, customer_id: int, frames: Sequence[bytes], now: datetime
    ) -> dict[bytes, _Decoding]:
        """What each distinct frame decodes to, its senders looked up first in a few statements."""
        self._prefetch(customer_id, frames, now)
        decoded: dict[bytes, _Decoding] = {}
        for frame in frames:
            if frame not in decoded:
                decoded[frame] = self._decode_frame(customer_id, frame, now)
        return decoded

    def _decode_frame(self, customer_id: int, frame: bytes, now: datetime) -> _Decoding:
        """The telegram in `frame`, or why not and which device it named, if any."""
        asked: list[Device] = []

        def key_for(device: Device) -> bytes | None:
            asked.append(device)
            return self._facts_of(customer_id, device, now).key

        try:
            return self._decode(customer_id, frame, key_for), None, None
        except UnableToDecodeTelegram as exc:
            return None, exc, exc.device or (asked[-1] if asked else None)

    def _file(
        self, customer_id: int, item: store.StoredTelegram, decoding: _Decoding, now: datetime
    ) -> tuple[store.Outcome, store.Hearing | None, list[ReadingInput]]:
        """The outcome, hearing and register readings of a stored telegram, once decoded."""
        decoded, failure, named = decoding
        if decoded is None:
            assert failure is not None
            if named is None:
                return (
                    store.Outcome(
                        item.id, store.FAILED, cause=failure.cause, reason=failure.reason
                    ),
                    None,
                    [],
                )
            facts = self._facts_of(customer_id, named, now)
            meter = facts.meter
            state = store.UNASSIGNED if meter is None else store.FAILED
            outcome = store.Outcome(
                item.id,
                state,
                manufacturer=named.manufacturer,
                device_id=named.id,
                meter_id=None if meter is None else meter.id,
                cause=failure.cause,
                reason=failure.reason,
            )
            return outcome, self._hearing(item, named, meter, None, None), []
        device = decoded.device
        facts = self._facts_of(customer_id, device, now)
        meter = facts.meter
        clock = read_clock(decoded, received_at=item.received_at, zone=facts.zone)
        drift = None if clock is None else clock.drift_s
        meter_time = None if clock is None else clock.meter_time
        hearing = self._hearing(item, device, meter, decoded, drift)
        if meter is None:
            outcome = store.Outcome(
                item.id,
                store.UNASSIGNED,
                manufacturer=device.manufacturer,
                device_id=device.id,
                reason=f"no meter {device.manufacturer} {device.id} in the installation register",
                meter_time=meter_time,
                clock_drift_s=drift,
            )
            return outcome, hearing, []
        found: list[ReadingInput] = []
        if facts.quantity is not None:
            # Typed values straight to the core: writing them as text to parse them
            # again cost more than the rest of the check.
            identity = meter.identity
            for at, value, unit in register_values(
                decoded,
                quantity=facts.quantity,
                received_at=item.received_at,
                zone=facts.zone,
                clock=clock,
            ):
                exact = value if isinstance(value, Decimal) else Decimal(value)
                found.append(ReadingInput(None, identity, at, exact, unit))
        outcome = store.Outcome(
            item.id,
            store.DECODED,
            manufacturer=device.manufacturer,
            device_id=device.id,
            meter_id=meter.id,
            reason=None if found else "the telegram holds no register value of the meter",
            meter_time=meter_time,
            clock_drift_s=drift,
        )
        return outcome, hearing, found

    def _decode(
        self, customer_id: int, frame: bytes, key_for: Callable[[Device], bytes | None]
    ) -> Telegram:
        try:
            return decode(frame, keys=key_for, layouts=self.layouts)
        except UnknownLayout as exc:
            # This process has not seen the meter's full frame; the database may have.
            device = exc.device
            if device is None or not self._learn_layout(customer_id, device, key_for):
                raise
            return decode(frame, keys=key_for, layouts=self.layouts)

    def _learn_layout(
        self, customer_id: int, device: Device, key_for: Callable[[Device], bytes | None]
    ) -> bool:
        with self.engine.connect() as conn:
            frames = store.latest_full_frames(
                conn,
                customer_id=customer_id,
                manufacturer=device.manufacturer,
                device_id=device.id,
            )
        learnt = False
        for frame in frames:
            try:
                decode(frame, keys=key_for, layouts=self.layouts)
                learnt = True
            except UnableToDecodeTelegram:
                continue
        return learnt

    def _hearing(
        self,
        item: store.StoredTelegram,
        device: Device,
        meter: store.MbusMeter | None,
        decoded: Telegram | None,
        drift: int | None,
    ) -> store.Hearing:
        return store.Hearing(
            customer_id=item.customer_id,
            gateway_id=item.gateway_id,
            manufacturer=device.manufacturer,
            device_id=device.id,
            received_at=item.received_at,
            rssi=item.rssi,
            meter_id=None if meter is None else meter.id,
            device_type=device.device_type,
            medium=device.medium,
            version=device.version,
            status=None if decoded is None else decoded.status,
            flags=None if decoded is None else ",".join(decoded.flags)[:200] or None,
            clock_drift_s=drift,
        )

    def _reading_ingest(self, customer_id: int, now: datetime) -> ReadingIngest:
        """The customer's reading ingest, kept for a while: it caches meters and spans."""
        kept = self._ingests.get(customer_id)
        if kept is not None and time.monotonic() - kept[0] < LOOKUP_TTL_S:
            kept[1].now = now
            return kept[1]
        ingest = ReadingIngest(
            self.engine,
            access=AccessContext.system("telegrams", customer_id),
            source="telegrams",
            now=now,
            max_errors=self.settings.max_errors_reported,
        )
        self._ingests[customer_id] = (time.monotonic(), ingest)
        return ingest

    def _prefetch(self, customer_id: int, frames: Sequence[bytes], now: datetime) -> None:
        """Look up, in a few statements, the meters and keys of a batch's senders.

        The sender is read where the frame names it (see _sender), without
        decoding; a telegram whose meter only the transport layer names (a radio
        adapter) is looked up on its own while decoding.
        """
        fresh = time.monotonic() - LOOKUP_TTL_S
        facts = self._facts
        wanted: dict[tuple[str, str], Device] = {}
        for frame in frames:
            device = _sender(frame)
            if device is None:
                continue
            known = facts.get((customer_id, device.manufacturer, device.id))
            if known is None or known.looked_up < fresh:
                wanted[(device.manufacturer, device.id)] = device
        if wanted:
            if len(facts) + len(wanted) > _DEVICES_KEPT:
                facts.clear()
            for pair, found in self._look_up_all(customer_id, list(wanted), now).items():
                facts[(customer_id, *pair)] = found

    def _facts_of(self, customer_id: int, device: Device, now: datetime) -> _DeviceFacts:
        key = (customer_id, device.manufacturer, device.id)
        facts = self._facts.get(key)
        if facts is not None and time.monotonic() - facts.looked_up < LOOKUP_TTL_S:
            return facts
        facts = self._look_up(customer_id, device, now)
        self._facts[key] = facts
        return facts

    def _look_up(self, customer_id: int, device: Device, now: datetime) -> _DeviceFacts:
        pair = (device.manufacturer, device.id)
        return self._look_up_all(customer_id, [pair], now)[pair]

    def _look_up_all(
        self, customer_id: int, pairs: Sequence[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], _DeviceFacts]:
        access = AccessContext.system("telegrams", customer_id)
        with self.engine.connect() as conn:
            meters = store.find_mbus_meters(conn, customer_id, pairs, now=now)
            identities = [meter.identity for meter in meters.values()]
            info = find_meters(conn, identities, access=access) if identities else {}
            sealed = (
                key_store.list_sealed_keys(
                    conn, [meter.id for meter in meters.values()], access=access
                )
                if meters
                else {}
            )
        # The readings of these meters are checked next: with what was just found.
        self._reading_ingest(customer_id, now).know_meters(info)
        looked_up = time.monotonic()
        default_zone = ZoneInfo(self.settings.default_time_zone)
        found: dict[tuple[str, str], _DeviceFacts] = {}
        for pair in pairs:
            meter = meters.get(pair)
            if meter is None:
                found[pair] = _DeviceFacts(None, None, None, default_zone, looked_up)
                continue
            registered = info.get(meter.identity, [])
            quantity = registered[0].unit.quantity if registered else None
            zone = ZoneInfo(meter.time_zone) if meter.time_zone else default_zone
            key = None
            if meter.id in sealed and self.keyring is not None:
                try:
                    key = self.keyring.unseal(
                        sealed[meter.id], meter_id=meter.id, customer_id=customer_id
                    )
                except UnableToOpenKey as exc:
                    logger.warning("meter %s: its key cannot be opened: %s", meter.id, exc)
            found[pair] = _DeviceFacts(meter, key, quantity, zone, looked_up)
        return found

    def forget_lookups(self) -> None:
        """Drop cached meters and keys (after the register or a key changed in this process)."""
        self._facts.clear()
        self._ingests.clear()

    # -- again ---------------------------------------------------------------

    def _load(
        self,
        customer_id: int,
        *,
        causes: Sequence[str] | None = None,
        states: Sequence[str] = (store.FAILED,),
        devices: set[tuple[str, str]] | None = None,
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> list[store.StoredTelegram]:
        with self.engine.connect() as conn:
            found = store.list_telegrams(
                conn, customer_id=customer_id, states=states, causes=causes, devices=devices
            )
        return [item for item in found if item.id not in exclude]

    def reprocess_meter(self, *, meter_id: int, customer_id: int) -> TelegramReport:
        """Process again the meter's telegrams that waited for its key (after it was set)."""
        self.forget_lookups()
        find = partial(
            store.list_telegrams,
            customer_id=customer_id,
            states=(store.FAILED,),
            causes=("key_needed", "wrong_key"),
            meter_ids=[meter_id],
        )
        return self._sweep(find)

    def reprocess_fixed(
        self, *, customer_id: int | None = None, page: int = 5_000
    ) -> TelegramReport:
        """Process again every stored telegram whose reason for waiting is gone.

        That is: telegrams still `received` (a crash between storing and
        processing); `unassigned` ones whose device the register now knows;
        `failed` ones whose meter got a key after they failed, compact frames
        still waiting for their layout, and any failure recorded by an older
        decoder version. Safe to run at any time: readings are idempotent.
        """
        self.forget_lookups()
        report = TelegramReport()
        with self.engine.connect() as conn:
            customers = (
                [customer_id]
                if customer_id is not None
                else store.list_customers_with_telegrams(
                    conn, states=(store.RECEIVED, store.UNASSIGNED, store.FAILED)
                )
            )
        for customer in customers:
            with self.engine.connect() as conn:
                assignable = store.list_assignable_devices(conn, customer_id=customer)
            find = partial(store.list_telegrams, customer_id=customer, limit=page)
            sweeps = [
                partial(find, states=(store.RECEIVED,)),
                partial(find, states=(store.FAILED,), keyed_since=True),
                partial(find, states=(store.FAILED,), causes=("unknown_layout",)),
                partial(find, states=(store.FAILED,), below_version=DECODER_VERSION),
            ]
            if assignable:
                sweeps.append(partial(find, states=(store.UNASSIGNED,), devices=assignable))
            for sweep in sweeps:
                report.add(self._sweep(sweep))
        return report

    def _sweep(self, find: Callable[..., list[store.StoredTelegram]]) -> TelegramReport:
        report = TelegramReport()
        after = 0
        while True:
            with self.engine.connect() as conn:
                batch = find(conn, after_id=after)
            if not batch:
                return report
            after = batch[-1].id
            report.add(self.process(batch))


def _sender(frame: bytes) -> Device | None:
    """The sender a frame names at its fixed place, or None if it names none there.

    A wireless frame's link address (bytes 2 to 9, before any CRC), or a wired
    long frame's long header (bytes 7 to 14, where its CI field has one). The
    frame is not checked: that is decoding's work, done once, later. A broken
    frame at worst names a device that is looked up in vain.
    """
    if len(frame) < _LINK_HEADER:
        return None
    if looks_wired(frame):
        if len(frame) >= _WIRED_LONG_HEADER_END:
            header = APPLICATION_CIS.get(frame[_WIRED_CI])
            if header is not None and header[0] is HeaderKind.LONG:
                return device_from_long_header(frame[_WIRED_CI + 1 : _WIRED_LONG_HEADER_END])
        return None
    return device_from_link_address(frame[2:_LINK_HEADER])


def build_telegram_ingest(engine: Engine, settings: Settings) -> TelegramIngest:
    """The process's telegram pipeline, with the keyring of the configured master keys."""
    return TelegramIngest(
        engine, settings=settings, keyring=Keyring.from_settings(settings), clock=utc_now
    )
