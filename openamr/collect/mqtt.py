"""MQTT: telegrams from gateways through a broker, acknowledged only once they are stored.

`openamr collect mqtt` subscribes with QoS 1 in a persistent session (a fixed
client id, clean session off) and acknowledges each message by hand, after
the transaction that stored its telegrams has committed. If the process or
the database stops in between, the broker still holds the message and sends
it again; storing is idempotent (a telegram is keyed by its digest), so a
message delivered twice is stored once. Telegrams stored but not yet decoded
when the process stopped are decoded when it starts again.

The gateway is named by the topic: the topic filter has exactly one `+`
level, and the topic's word at that level is the gateway's identity, e.g.
`openamr/gateways/+/telegrams` and `openamr/gateways/gw-7/telegrams`. The
broker's access rules decide which client may publish to which topic. A
message's payload is one telegram item, a JSON array of them, an object
`{"telegrams": [...]}`, or a bare hexadecimal telegram (see
:mod:`openamr.collect.telegram_input`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from openamr.access import AccessContext
from openamr.collect.rejections import Rejection, keep_rejections
from openamr.collect.telegram_input import parse_item
from openamr.collect.telegrams import TelegramIngest
from openamr.db import durable_transaction
from openamr.store import telegrams as store

logger = logging.getLogger(__name__)


# How often a running collector looks for telegrams whose cause of waiting is
# gone (a key set or a meter registered by another process), and how soon it
# looks again after the database was away.
SWEEP_INTERVAL_S = 300.0
RETRY_SWEEP_S = 2.0


class UnableToCollect(ValueError):
    """A collector setting that cannot work (a topic filter without a gateway level)."""


@dataclass(frozen=True, slots=True)
class MqttOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    topic: str = "openamr/gateways/+/telegrams"
    client_id: str = "openamr-collector"
    username: str | None = None
    password: str | None = None
    batch_size: int = 500  # messages per transaction at most
    batch_wait_s: float = 0.2  # how long a batch waits to fill


def gateway_level(topic_filter: str) -> int:
    """The level of the topic filter that names the gateway: its one `+`."""
    levels = topic_filter.split("/")
    plus = [n for n, level in enumerate(levels) if level == "+"]
    if len(plus) != 1 or "#" in levels[: plus[0]]:
        raise UnableToCollect(
            f"the topic filter {topic_filter!r} must have exactly one '+' level, "
            "where the gateway's identity stands"
        )
    return plus[0]


@dataclass(frozen=True, slots=True)
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes


class MqttCollector:
    """Runs until `stop` is set: receive, store, acknowledge, then decode."""

    def __init__(
        self,
        ingest: TelegramIngest,
        options: MqttOptions,
        *,
        clock: Callable[[], datetime],
        on_stored: Callable[[int], None] | None = None,
    ) -> None:
        self.ingest = ingest
        self.engine = ingest.engine
        self.options = options
        self.clock = clock
        self.level = gateway_level(options.topic)
        self.on_stored = on_stored
        self._inbox: queue.Queue[_Message] = queue.Queue()
        self._gateways: dict[str, store.Gateway | None] = {}
        self._subscribed = threading.Event()
        self._sweep_at = 0.0

    def run(self, stop: threading.Event) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            clean_session=False,
            manual_ack=True,
        )
        if self.options.username:
            client.username_pw_set(self.options.username, self.options.password)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.connect(self.options.host, self.options.port)
        client.loop_start()
        try:
            # What a previous run stored but did not get to decode comes first.
            self._sweep_at = time.monotonic()
            while not stop.is_set():
                if time.monotonic() >= self._sweep_at:
                    self._sweep()
                batch = self._next_batch(stop)
                if batch:
                    self._handle(client, batch, stop)
        finally:
            client.disconnect()
            client.loop_stop()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    # paho's network thread ---------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            logger.error("MQTT broker refused the connection: %s", reason)
            return
        client.subscribe(self.options.topic, qos=1)
        self._subscribed.set()
        logger.info("subscribed to %s", self.options.topic)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self._inbox.put(_Message(message.mid, message.qos, message.topic, bytes(message.payload)))

    # the collector's thread --------------------------------------------------

    def _next_batch(self, stop: threading.Event) -> list[_Message]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.options.batch_wait_s
        while len(batch) < self.options.batch_size and not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _handle(self, client: mqtt.Client, batch: list[_Message], stop: threading.Event) -> None:
        now = self.clock()
        delay = 0.5
        while True:
            try:
                new = self._store(batch, now)
                break
            except sa.exc.OperationalError as exc:
                # The database is away: keep the messages unacknowledged and retry.
                logger.warning("cannot store telegrams (%s); retrying in %.1f s", exc.orig, delay)
                if stop.wait(delay):
                    return
                delay = min(delay * 2, 30.0)
        for message in batch:
            if message.qos > 0:
                client.ack(message.mid, message.qos)
        if self.on_stored is not None:
            self.on_stored(len(batch))
        if new:
            try:
                self.ingest.process(new)
            except sa.exc.OperationalError as exc:
                # Stored and acknowledged: they wait as `received` for the next sweep.
                logger.warning("telegrams stored, decoding postponed: %s", exc.orig)
                self._sweep_at = min(self._sweep_at, time.monotonic() + RETRY_SWEEP_S)

    def _sweep(self) -> None:
        """Decode what waits: telegrams stored but not decoded, and those whose cause is gone."""
        try:
            self.ingest.reprocess_fixed()
        except sa.exc.OperationalError as exc:
            logger.warning("cannot look for waiting telegrams (%s); trying again soon", exc.orig)
            self._sweep_at = time.monotonic() + RETRY_SWEEP_S
            return
        self._sweep_at = time.monotonic() + SWEEP_INTERVAL_S

    def _store(self, batch: list[_Message], now: datetime) -> list[store.StoredTelegram]:
        by_gateway: dict[str, list[tuple[int, object]]] = defaultdict(list)
        rejected: list[tuple[str, Rejection]] = []
        for number, message in enumerate(batch, start=1):
            identity = message.topic.split("/")[self.level] if message.topic else ""
            for item in _items(message.payload):
                by_gateway[identity].append((number, item))
        new: list[store.StoredTelegram] = []
        with durable_transaction(self.engine) as conn:
            for identity, items in by_gateway.items():
                source = self._gateway(conn, identity)
                accepted = []
                for number, item in items:
                    parsed: store.IncomingTelegram | str
                    if source is None:
                        parsed = f"no gateway {identity[:64]!r} in the register"
                    elif isinstance(item, _Unreadable):
                        parsed = item.reason
                    else:
                        parsed = parse_item(item, now=now, gateway=identity)
                    if isinstance(parsed, str):
                        payload = (
                            item
                            if isinstance(item, dict)
                            else {"payload": item.text}
                            if isinstance(item, _Unreadable)
                            else {"item": item}
                        )
                        rejected.append(
                            (
                                identity,
                                Rejection(
                                    number,
                                    parsed,
                                    {str(k): str(v)[:1000] for k, v in payload.items()},
                                    None if source is None else source.customer_id,
                                ),
                            )
                        )
                    else:
                        accepted.append(parsed)
                if source is not None and accepted:
                    new.extend(store.store_telegrams(conn, source, accepted).new)
            for identity, rejection in rejected:
                keep_rejections(
                    conn,
                    [rejection],
                    kind="telegram",
                    source=f"mqtt:{identity[:64]}",
                    received_at=now,
                )
        return new

    def _gateway(self, conn: sa.Connection, identity: str) -> store.Gateway | None:
        if identity not in self._gateways:
            self._gateways[identity] = store.find_gateway(
                conn, identity, access=AccessContext.operator("mqtt")
            )
        return self._gateways[identity]


@dataclass(frozen=True, slots=True)
class _Unreadable:
    reason: str
    text: str


def _items(payload: bytes) -> list[object]:
    """The telegram items in a message's payload; an unreadable payload is one bad item."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        # Not text: a gateway that publishes the telegram's raw bytes.
        return [{"hex": payload.hex()}]
    if not text.startswith(("{", "[")):
        return [{"hex": text}]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return [_Unreadable(f"the payload is not valid JSON: {exc}", text[:1000])]
    if isinstance(document, dict) and isinstance(document.get("telegrams"), list):
        return list(document["telegrams"])
    if isinstance(document, list):
        return document
    return [document]
