"""A gateway's batch is processed first and stored once with its outcomes, and nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.collect.gateways import register_gateway
from openamr.collect.mbus import DECODER_VERSION
from openamr.collect.telegrams import TelegramIngest, build_telegram_ingest
from openamr.demo.telegrams import date_time, volume_litres, wmbus
from openamr.settings import Settings
from openamr.store.schema import heard_device, reading, telegram
from openamr.store.telegrams import Gateway, IncomingTelegram
from tests.helpers import NOW, OPERATOR, load_portfolio

START = datetime(2026, 2, 9, 23, 0, tzinfo=UTC)


def _frame(litres: int, at: datetime, *, device: str = "12345678") -> IncomingTelegram:
    shown = (at + timedelta(hours=1)).replace(tzinfo=None)  # the meter's local clock
    frame = wmbus(volume_litres(litres) + date_time(shown), device_id=device)
    return IncomingTelegram(frame, at + timedelta(seconds=20), -70)


@pytest.fixture
def gateway(engine: Engine) -> Gateway:
    load_portfolio(
        engine,
        [
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,cold_water,12345678,m3,8,"
            "2026-01-01T00:00:00+01:00,"
        ],
    )
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meter SET manufacturer = 'KAM'"))
    found, _token = register_gateway(
        engine,
        customer="Hem AB",
        identity="gw-1",
        property_designation="Uppsala Kåbo 1:23",
        access=OPERATOR,
        now=NOW,
    )
    return found


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    query = sa.select(
        telegram.c.state, telegram.c.device_id, telegram.c.decoder_version, telegram.c.processed_at
    ).order_by(telegram.c.id)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_batch_is_stored_once_with_its_outcomes_and_repeats_are_not_decoded_again(
    engine: Engine, settings: Settings, gateway: Gateway
) -> None:
    first, second = _frame(1000, START), _frame(1025, START + timedelta(hours=1))
    stranger = _frame(5, START, device="87654321")
    ingest = build_telegram_ingest(engine, settings)

    report = ingest.receive(gateway, [first, second, first, stranger])

    assert (report.received, report.duplicates, report.decoded, report.unassigned) == (4, 1, 2, 1)
    assert report.readings == 2
    assert [(state, device, version) for state, device, version, _at in _rows(engine)] == [
        ("decoded", "12345678", DECODER_VERSION),
        ("decoded", "12345678", DECODER_VERSION),
        ("unassigned", "87654321", DECODER_VERSION),
    ]
    assert all(at is not None for *_rest, at in _rows(engine))
    with engine.connect() as conn:
        query = sa.select(heard_device.c.device_id, heard_device.c.telegrams)
        heard = {row.device_id: row.telegrams for row in conn.execute(query)}
    assert heard == {"12345678": 2, "87654321": 1}

    # The same frames again, in this process and in another that has not seen them.
    for again in (ingest, build_telegram_ingest(engine, settings)):
        repeat = again.receive(gateway, [first, second, stranger])
        assert (repeat.received, repeat.duplicates, repeat.decoded, repeat.unassigned) == (
            3,
            3,
            0,
            0,
        )
    assert len(_rows(engine)) == 3
    assert _count(engine, reading) == 2


def test_a_fault_while_processing_keeps_the_batch_to_be_processed_again(
    engine: Engine, settings: Settings, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = build_telegram_ingest(engine, settings)

    def broken(*_args: object) -> None:
        raise RuntimeError("a defect in the readings")

    monkeypatch.setattr(TelegramIngest, "_store_readings", broken)
    with pytest.raises(RuntimeError, match="a defect"):
        ingest.receive(gateway, [_frame(1000, START), _frame(1025, START + timedelta(hours=1))])
    assert [row[:3] for row in _rows(engine)] == [("received", None, None)] * 2
    assert _count(engine, reading) == 0

    monkeypatch.undo()
    report = ingest.reprocess_fixed()
    assert (report.decoded, report.readings) == (2, 2)
    assert [row[0] for row in _rows(engine)] == ["decoded", "decoded"]
    assert _count(engine, reading) == 2
