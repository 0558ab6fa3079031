"""Telegrams through a real MQTT broker: nothing lost when the collector is killed mid-stream.

The broker is the local Mosquitto (127.0.0.1:1883, `make test` starts it). The
collector runs as its own process, `openamr collect mqtt`, and is killed with
SIGKILL while telegrams are still arriving; the messages it had not
acknowledged, and those published while it was down, reach the restarted
collector, and every telegram ends up stored once and decoded into a reading.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

from openamr.collect.gateways import register_gateway
from openamr.collect.portfolio import import_portfolio, read_portfolio_csv
from openamr.db import is_sqlite
from openamr.demo.telegrams import date_time, volume_litres, wmbus
from openamr.settings import Settings, normalise_database_url
from openamr.store.schema import reading, rejected_input, telegram
from tests.conftest import ADMIN_URL
from tests.helpers import NOW, OPERATOR, PORTFOLIO_HEADER

BROKER = (
    os.environ.get("OPENAMR_TEST_MQTT_HOST", "127.0.0.1"),
    int(os.environ.get("OPENAMR_TEST_MQTT_PORT", "1883")),
)
ROW = (
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,cold_water,12345678,m3,8,"
    "2026-01-01T00:00:00+01:00,,KAM\n"
)
START = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
TELEGRAMS = 240


def _frame(hour: int) -> bytes:
    shown = (START + timedelta(hours=hour, minutes=60)).replace(tzinfo=None)  # local clock
    return wmbus(volume_litres(1000 + 7 * hour) + date_time(shown), access_number=hour % 256)


def _item(hour: int) -> dict[str, object]:
    heard = START + timedelta(hours=hour, seconds=15)
    return {"hex": _frame(hour).hex(), "received_at": heard.isoformat(), "rssi": -70}


def _message(hour: int) -> str:
    """One telegram as a gateway publishes it: JSON with its reception time."""
    return json.dumps(_item(hour))


def _count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return conn.execute(query).scalar_one()


def _wait(
    condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            told = f"; the collector said:\n{log.read_text()[-3000:]}" if log else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{told}")
        time.sleep(0.1)


@pytest.fixture
def publisher() -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex}")
    client.connect(*BROKER)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def _collector(
    settings: Settings, topic: str, client_id: str, log: Path
) -> subprocess.Popen[bytes]:
    # The broker and topic come from the environment (Settings), the client id from its option.
    env = os.environ | {
        "OPENAMR_DATABASE_URL": settings.database_url,
        "OPENAMR_MQTT_URL": f"mqtt://{BROKER[0]}:{BROKER[1]}",
        "OPENAMR_MQTT_TOPIC": topic,
    }
    command = [
        sys.executable,
        "-c",
        "from openamr.cli import main; main()",
        "collect",
        "mqtt",
        "--client-id",
        client_id,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _register(engine: Engine) -> None:
    report = import_portfolio(
        engine,
        read_portfolio_csv(StringIO(PORTFOLIO_HEADER + ",manufacturer\n" + ROW)),
        access=OPERATOR,
        source="test",
        time_zone="Europe/Stockholm",
        now=NOW,
    )
    assert not report.errors
    register_gateway(
        engine,
        customer="Hem AB",
        identity="gw-1",
        property_designation=None,
        access=OPERATOR,
        now=NOW,
    )


def _until_subscribed(
    engine: Engine,
    publisher: mqtt.Client,
    topic: str,
    collector: subprocess.Popen[bytes],
    log: Path,
) -> None:
    # The first subscription creates the broker's session: until then
    # nothing is kept for the collector, so the first telegram is repeated
    # until it is stored (a repeat is a duplicate, stored once).
    deadline = time.monotonic() + 30
    while _count(engine, telegram) == 0:
        assert collector.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        publisher.publish(topic, _message(0), qos=1).wait_for_publish(5)
        time.sleep(0.3)


def test_a_collector_killed_mid_stream_loses_no_telegram(
    settings: Settings, engine: Engine, publisher: mqtt.Client, tmp_path: Path
) -> None:
    _register(engine)
    run = uuid.uuid4().hex[:12]
    topic_filter = f"test/{run}/+/telegrams"
    topic = f"test/{run}/gw-1/telegrams"
    client_id = f"openamr-test-{run}"
    log = tmp_path / "collector.log"

    collector = _collector(settings, topic_filter, client_id, log)
    try:
        _until_subscribed(engine, publisher, topic, collector, log)

        for hour in range(1, TELEGRAMS // 2):
            publisher.publish(topic, _message(hour), qos=1)
        _wait(lambda: _count(engine, telegram) >= 40, 30, "the first telegrams")
        collector.send_signal(signal.SIGKILL)
        collector.wait(10)
        stored_when_killed = _count(engine, telegram)

        # Published while no collector runs: the broker keeps them for the session.
        # A JSON batch and a bad payload ride along.
        last = [
            publisher.publish(topic, _message(hour), qos=1)
            for hour in range(TELEGRAMS // 2, TELEGRAMS - 2)
        ]
        batch = json.dumps({"telegrams": [_item(TELEGRAMS - 2), _item(TELEGRAMS - 1)]})
        last.append(publisher.publish(topic, batch, qos=1))
        last.append(publisher.publish(topic, "{not json", qos=1))
        for message in last:
            message.wait_for_publish(10)

        collector = _collector(settings, topic_filter, client_id, log)
        _wait(
            lambda: _count(engine, telegram, telegram.c.state == "decoded") == TELEGRAMS,
            120,
            "every telegram decoded",
            log,
        )
        _wait(
            lambda: _count(engine, rejected_input, rejected_input.c.kind == "telegram") == 1,
            10,
            "the bad payload kept",
        )
    finally:
        collector.send_signal(signal.SIGTERM)
        try:
            collector.wait(10)
        except subprocess.TimeoutExpired:
            collector.kill()
    assert 0 < stored_when_killed < TELEGRAMS, stored_when_killed
    assert _count(engine, telegram) == TELEGRAMS
    assert _count(engine, reading) == TELEGRAMS
    with engine.connect() as conn:
        reason = conn.execute(
            sa.select(rejected_input.c.reason).where(rejected_input.c.kind == "telegram")
        ).scalar_one()
    assert "not valid JSON" in reason


@contextmanager
def _database_away(engine: Engine) -> Iterator[None]:
    """PostgreSQL refuses the collector (a server restart, as it sees it); SQLite stays locked."""
    if is_sqlite(engine):
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
            yield
            conn.exec_driver_sql("ROLLBACK")
        return
    admin = sa.create_engine(normalise_database_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = engine.url.database
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.dispose()


def test_telegrams_published_while_the_database_is_away_are_stored_when_it_is_back(
    settings: Settings, engine: Engine, publisher: mqtt.Client, tmp_path: Path
) -> None:
    _register(engine)
    run = uuid.uuid4().hex[:12]
    topic = f"test/{run}/gw-1/telegrams"
    log = tmp_path / "collector.log"
    collector = _collector(settings, f"test/{run}/+/telegrams", f"openamr-test-{run}", log)
    try:
        _until_subscribed(engine, publisher, topic, collector, log)
        with _database_away(engine):
            sent = [publisher.publish(topic, _message(hour), qos=1) for hour in range(1, 60)]
            for message in sent:
                message.wait_for_publish(10)
            time.sleep(3)
            assert collector.poll() is None, log.read_text()
        engine.dispose()  # the test's own pooled connections died with the database
        _wait(
            lambda: _count(engine, telegram, telegram.c.state == "decoded") == 60,
            120,
            "every telegram decoded after the database came back",
            log,
        )
    finally:
        collector.send_signal(signal.SIGTERM)
        try:
            collector.wait(10)
        except subprocess.TimeoutExpired:
            collector.kill()
    assert _count(engine, reading) == 60
    if not is_sqlite(engine):
        # The collector did meet the refusal, and waited it out.
        assert "retrying" in log.read_text()
