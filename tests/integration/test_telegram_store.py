"""Telegrams are stored once, however often they are heard, and the radio side is counted."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.db import durable_transaction, is_sqlite
from openamr.store import telegrams as store
from openamr.store.schema import customer, telegram
from tests.helpers import NOW, OPERATOR, load_portfolio

EL = "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2026-01-01T00:00:00+01:00,"
OTHER = "Bo AB,Umeå Ön 2:1,Önvägen 1,1001,electricity,EL-9,kWh,7,2026-01-01T00:00:00+01:00,"


def _gateways(engine: Engine) -> tuple[store.Gateway, store.Gateway, store.Gateway]:
    load_portfolio(engine, [EL, OTHER])
    with engine.begin() as conn:
        ids = dict(conn.execute(sa.select(customer.c.name, customer.c.id)).all())
        first = store.add_gateway(
            conn,
            customer_id=ids["Hem AB"],
            identity="gw-1",
            property_id=None,
            token_hash="a" * 64,
            now=NOW,
        )
        second = store.add_gateway(
            conn,
            customer_id=ids["Hem AB"],
            identity="gw-2",
            property_id=None,
            token_hash="b" * 64,
            now=NOW,
        )
        foreign = store.add_gateway(
            conn,
            customer_id=ids["Bo AB"],
            identity="gw-9",
            property_id=None,
            token_hash="c" * 64,
            now=NOW,
        )
    return first, second, foreign


def test_a_telegram_heard_twice_or_by_two_gateways_is_stored_once(engine: Engine) -> None:
    first, second, _ = _gateways(engine)
    frame = bytes.fromhex("2A442D2C998734761B16")
    heard = store.IncomingTelegram(frame, NOW, -70)
    with engine.begin() as conn:
        one = store.store_telegrams(conn, first, [heard, heard])
        two = store.store_telegrams(conn, second, [store.IncomingTelegram(frame, NOW, -80)])
    assert (len(one.new), one.duplicates) == (1, 1)
    assert (len(two.new), two.duplicates) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(telegram)).scalar_one() == 1
        health = {g.identity: g for g in store.list_gateways(conn, access=OPERATOR, now=NOW)}
    assert health["gw-1"].telegrams_last_hour == 2
    assert health["gw-1"].duplicates_last_day == 1
    assert health["gw-2"].telegrams_last_day == 1
    assert health["gw-2"].last_seen_at == NOW


def test_hearings_give_each_device_its_latest_state_and_each_gateway_its_devices(
    engine: Engine,
) -> None:
    first, second, _ = _gateways(engine)
    earlier = NOW - timedelta(minutes=5)
    with engine.begin() as conn:
        store.record_hearings(
            conn,
            [
                store.Hearing(
                    first.customer_id, first.id, "KAM", "76348799", earlier, -90, None, flags="leak"
                ),
                store.Hearing(
                    first.customer_id, second.id, "KAM", "76348799", NOW, -60, None, flags=None
                ),
                store.Hearing(first.customer_id, first.id, "TCH", "12345678", NOW, -75, None),
            ],
        )
        store.record_hearings(
            conn,
            [
                store.Hearing(
                    first.customer_id,
                    first.id,
                    "KAM",
                    "76348799",
                    earlier,
                    -99,
                    None,
                    flags="burst",
                )
            ],
        )
    with engine.connect() as conn:
        devices = {
            d.device_id: d
            for d in store.list_heard_devices(conn, access=OPERATOR, unassigned_only=True)
        }
        health = {g.identity: g for g in store.list_gateways(conn, access=OPERATOR, now=NOW)}
    kam = devices["76348799"]
    # The latest telegram wins, whichever arrives last; the count adds up.
    assert (kam.rssi, kam.flags, kam.telegrams, kam.gateways) == (-60, (), 3, 2)
    assert kam.last_seen_at == NOW
    assert health["gw-1"].devices_heard_last_day == 2
    assert health["gw-2"].devices_heard_last_day == 1


def test_another_customers_gateways_and_devices_stay_out_of_sight(engine: Engine) -> None:
    first, _, foreign = _gateways(engine)
    with engine.begin() as conn:
        store.store_telegrams(conn, foreign, [store.IncomingTelegram(b"\x01\x02\x03\x04\x05", NOW)])
        store.record_hearings(
            conn,
            [store.Hearing(foreign.customer_id, foreign.id, "ABB", "00000001", NOW, -50, None)],
        )
    theirs = AccessContext.system("t", first.customer_id)
    with engine.connect() as conn:
        assert [g.identity for g in store.list_gateways(conn, access=theirs, now=NOW)] == [
            "gw-1",
            "gw-2",
        ]
        assert store.list_heard_devices(conn, access=theirs) == []
        assert store.find_gateway(conn, "gw-9", access=theirs) is None


def test_what_is_acknowledged_is_committed_to_disk(engine: Engine) -> None:
    with durable_transaction(engine) as conn:
        if is_sqlite(conn):
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    with engine.connect() as conn:
        if is_sqlite(conn):
            # The bulk paths keep their faster setting.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
