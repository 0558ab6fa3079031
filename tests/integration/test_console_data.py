"""The operations console's data: each customer's own, and only its own, on both databases."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.app import create_app
from openamr.collect import console as actions
from openamr.demo.telegrams import volume_litres, wmbus
from openamr.guard.policy import may_read_hourly
from openamr.present.console_values import UnableToShowHourly, meter_values
from openamr.settings import Settings
from openamr.store import console as store
from openamr.store.meters import create_metering_point
from openamr.store.schema import audit_event, telegram
from openamr.validate import Resolution
from tests.access_world import MOVE, World, build_world
from tests.helpers import NOW, enable_operations_hourly

LEAKING = "55667788"  # a Kamstrup water meter heard, not in the register, with its leak flag up
HEARD_AT = MOVE + timedelta(hours=5)


def leak_frame(litres: int = 1234, *, device_id: str = LEAKING) -> bytes:
    """A MULTICAL 21 telegram: info register (FF 20) with LEAK set, and its volume."""
    info = b"\x02\xff\x20" + struct.pack("<H", 0x0004)
    return wmbus(info + volume_litres(litres), device_id=device_id)


def staff(customer: int, role: Role = Role.OPERATIONS, *, hourly: bool = False) -> AccessContext:
    return AccessContext(
        actor="staff:1",
        role=role,
        customer_ids=frozenset({customer}),
        operations_hourly=hourly,
    )


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=lambda: NOW)) as test_client:
        yield test_client


def post_telegrams(client: TestClient, token: str, frames: list[bytes], at: datetime) -> None:
    answer = client.post(
        "/api/v1/telegrams",
        json={
            "telegrams": [
                {"hex": frame.hex(), "received_at": at.isoformat(), "rssi": -80} for frame in frames
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text


def test_the_portfolio_counts_apartments_points_and_meters_of_the_own_customer_only(
    engine: Engine, world: World
) -> None:
    with engine.connect() as conn:
        seen_by_a = store.list_property_summaries(conn, access=staff(world.customer_a), now=NOW)
        seen_by_b = store.list_property_summaries(conn, access=staff(world.customer_b), now=NOW)
    assert [(p.id, p.apartments, p.points, p.meters) for p in seen_by_a] == [
        (world.property_a, 2, 4, 4)
    ]
    assert [p.id for p in seen_by_b] == [world.property_b]


def test_completeness_per_day_counts_the_hours_nobody_stored_as_missing(
    engine: Engine, world: World
) -> None:
    access = staff(world.customer_a)
    with engine.connect() as conn:
        properties = store.list_property_summaries(conn, access=access, now=NOW)
        days = actions.daily_completeness(
            conn,
            access=access,
            properties=properties,
            first_day=date(2026, 5, 31),
            end_day=date(2026, 6, 5),
        )
    assert list(days) == [world.property_a]  # never another customer's property
    # Two of the property's four points (the two electricity meters) have every hour
    # from 05-30 to 06-02; nothing after.
    assert [(d.day.isoformat(), d.measured, d.missing) for d in days[world.property_a]] == [
        ("2026-05-31", 48, 48),
        ("2026-06-01", 48, 48),
        ("2026-06-02", 48, 48),
        ("2026-06-03", 0, 96),
        ("2026-06-04", 0, 96),
    ]
    assert days[world.property_a][0].share("measured") == 0.5


def test_completeness_knows_a_day_of_25_hours(engine: Engine, world: World) -> None:
    access = staff(world.customer_a)
    with engine.connect() as conn:
        properties = store.list_property_summaries(conn, access=access, now=NOW)
        days = actions.daily_completeness(
            conn,
            access=access,
            properties=properties,
            first_day=date(2026, 10, 25),
            end_day=date(2026, 10, 26),
        )
    assert days[world.property_a][0].expected == 4 * 25


def test_a_property_lists_its_apartments_by_entrance_and_number_with_their_meters(
    engine: Engine, world: World
) -> None:
    with engine.connect() as conn:
        rows = store.list_placed_points(
            conn, access=staff(world.customer_a), property_id=world.property_a, now=NOW
        )
        foreign = store.list_placed_points(
            conn, access=staff(world.customer_b), property_id=world.property_a, now=NOW
        )
    assert [(r.apartment_number, r.medium, r.meter_identity) for r in rows] == [
        ("1101", "cold_water", "CW-A1"),
        ("1101", "electricity", "EL-A1"),
        ("1102", "electricity", "EL-A2"),
        (None, "heat", "HM-A"),
    ]
    assert foreign == []


def test_a_leak_flag_an_unassigned_meter_and_a_broken_telegram_show_to_their_customer_only(
    engine: Engine, world: World, client: TestClient
) -> None:
    post_telegrams(client, world.gateway_token_a, [leak_frame(), b"\x05\x44\x00\x00\x00"], HEARD_AT)
    a, b = staff(world.customer_a), staff(world.customer_b)
    with engine.connect() as conn:
        flagged = store.list_flagged_devices(conn, access=a)
        waiting = store.list_undecoded_telegrams(conn, access=a)
        counts = store.count_undecoded_telegrams(conn, access=a)
        assert store.list_flagged_devices(conn, access=b) == []
        assert store.list_undecoded_telegrams(conn, access=b) == []
        assert store.count_undecoded_telegrams(conn, access=b) == {}
    assert [(f.device_id, f.meter_id, "leak" in f.flags) for f in flagged] == [
        (LEAKING, None, True)
    ]
    assert sorted(t.state for t in waiting) == ["failed", "unassigned"]
    assert all(t.gateway == "gw-a" for t in waiting)
    assert next(t for t in waiting if t.state == "failed").reason
    assert sum(counts.values()) == 2


def test_attaching_a_heard_meter_files_its_waiting_telegrams_and_shows_its_leak(
    engine: Engine, world: World, client: TestClient
) -> None:
    post_telegrams(client, world.gateway_token_a, [leak_frame()], HEARD_AT)
    a = staff(world.customer_a)
    with engine.begin() as conn:
        point = create_metering_point(
            conn, access=a, medium="cold_water", apartment_id=world.apartment_a2
        )
        free = store.list_free_points(conn, access=a, now=NOW)
        assert [p.point_id for p in free] == [point.id]
        assert store.list_free_points(conn, access=staff(world.customer_b), now=NOW) == []
    with engine.begin() as conn, pytest.raises(actions.UnableToAttach):
        # Another customer's staff cannot reach the device, whatever they know of it.
        actions.attach_heard_device(
            conn,
            staff(world.customer_b),
            manufacturer="KAM",
            device_id=LEAKING,
            point_id=point.id,
            installed_from="2026-06-01",
            unit=None,
            now=NOW,
        )
    with engine.begin() as conn:
        installation = actions.attach_heard_device(
            conn,
            a,
            manufacturer="kam",
            device_id=LEAKING,
            point_id=point.id,
            installed_from="2026-06-01",
            unit=None,
            now=NOW,
        )
    report = actions.process_device_telegrams(
        engine,
        client.app.state.telegram_ingest,  # type: ignore[attr-defined]
        customer_id=world.customer_a,
        manufacturer="KAM",
        device_id=LEAKING,
    )
    assert report.decoded == 1
    with engine.connect() as conn:
        detail = store.find_meter_detail(conn, access=a, meter_id=installation.meter_id, now=NOW)
        assert (
            store.find_meter_detail(
                conn, access=staff(world.customer_b), meter_id=installation.meter_id, now=NOW
            )
            is None
        )
        readings = store.list_latest_readings(conn, access=a, meter_id=installation.meter_id)
        states = conn.execute(sa.select(telegram.c.state)).scalars().all()
        actions_audited = conn.execute(sa.select(audit_event.c.action)).scalars().all()
        assert store.list_free_points(conn, access=a, now=NOW) == []
    assert detail is not None
    assert (detail.apartment_number, detail.point_id, "leak" in detail.flags) == (
        "1102",
        point.id,
        True,
    )
    assert detail.rssi == -80
    assert [r.value for r in readings] == [1234]  # litres
    assert states == ["decoded"]
    assert "console.meter.attach" in actions_audited


def test_search_finds_meters_properties_and_apartments_of_the_own_customer_only(
    engine: Engine, world: World
) -> None:
    a = staff(world.customer_a)
    with engine.connect() as conn:
        meters = store.search(conn, access=a, text="el-")
        by_designation = store.search(conn, access=a, text="Kåbo")
        by_number = store.search(conn, access=a, text="1101")
        foreign = store.search(conn, access=a, text="EL-B1")
        literal = store.search(conn, access=a, text="%")
    assert [h.label for h in meters] == ["EL-A1", "EL-A2"]
    assert [(h.kind, h.id) for h in by_designation] == [("property", world.property_a)]
    assert [(h.kind, h.id) for h in by_number] == [("apartment", world.property_a)]
    assert foreign == []
    assert literal == []


def test_hourly_values_only_where_the_customer_enabled_them_and_every_read_audited(
    engine: Engine, world: World
) -> None:
    without = staff(world.customer_a)
    assert not may_read_hourly(without)
    day = date(2026, 6, 1)
    with engine.begin() as conn:
        detail = store.find_meter_detail(conn, access=without, meter_id=world.meter_a1, now=NOW)
        assert detail is not None
        daily = meter_values(
            conn,
            without,
            detail,
            first_day=day,
            end_day=day + timedelta(days=1),
            resolution=Resolution.DAY,
            now=NOW,
        )
        with pytest.raises(UnableToShowHourly):
            meter_values(
                conn,
                without,
                detail,
                first_day=day,
                end_day=day + timedelta(days=1),
                resolution=Resolution.HOUR,
                now=NOW,
            )
    assert daily is not None
    assert [v.value for v in daily.values] == [24 * 1000]
    enable_operations_hourly(engine, world.customer_a)
    with engine.begin() as conn:
        hourly = meter_values(
            conn,
            staff(world.customer_a, hourly=True),
            detail,
            first_day=day,
            end_day=day + timedelta(days=1),
            resolution=Resolution.HOUR,
            now=NOW,
        )
        reads = conn.execute(
            sa.select(audit_event.c.action, audit_event.c.tenancy_id).where(
                audit_event.c.action.like("values.read.%")
            )
        ).all()
    assert hourly is not None
    assert len(hourly.values) == 24
    # The day's read and the hour's read, each an event of the household living there.
    assert sorted(reads) == [
        ("values.read.day", world.tenancy_a1),
        ("values.read.hour", world.tenancy_a1),
    ]
