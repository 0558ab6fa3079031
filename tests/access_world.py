"""A small world for access-control tests: two customers, a move, households, staff, gateways.

Customer A (Hem AB) has a property with apartments 1101 and 1102 and a
building heat meter; apartment 1101 changed households on 2026-06-01 (local
midnight), so its electricity point has hours of the previous household and
of the present one. Customer B (Annat AB) has one apartment. Every apartment
point has hourly values from 2026-05-30 to 2026-06-03.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.collect.gateways import register_gateway
from openamr.store import portfolio as register
from openamr.store.schema import apartment, customer, meter, metering_point, property_
from tests.helpers import NOW, OPERATOR, ingest, load_portfolio

INSTALLED = "2025-01-01T00:00:00+01:00"
ROWS = [
    f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-A1,kWh,7,{INSTALLED},",
    f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,cold_water,CW-A1,m3,5,{INSTALLED},",
    f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,electricity,EL-A2,kWh,7,{INSTALLED},",
    f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,,heat,HM-A,MWh,6,{INSTALLED},",
    f"Annat AB,Solna Råsunda 4:2,Råsundavägen 1,1001,electricity,EL-B1,kWh,7,{INSTALLED},",
]
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
MOVE = datetime(2026, 5, 31, 22, tzinfo=UTC)  # 2026-06-01 00:00 in Stockholm
FIRST_HOUR = datetime(2026, 5, 29, 22, tzinfo=UTC)  # 2026-05-30 00:00 in Stockholm
HOURS = 4 * 24


@dataclass(frozen=True)
class World:
    customer_a: int
    customer_b: int
    property_a: int
    property_b: int
    apartment_a1: int
    apartment_a2: int
    apartment_b1: int
    point_a1: int  # electricity of 1101
    point_a1_water: int
    point_a2: int
    point_b1: int
    point_heat_a: int  # the building's heat meter, a property-level point
    meter_a1: int
    meter_a2: int
    meter_b1: int
    tenancy_a1_before: int  # the household that moved out of 1101 on 2026-06-01
    tenancy_a1: int  # the household living in 1101 now
    tenancy_a2: int
    tenancy_b1: int
    gateway_token_a: str
    gateway_token_b: str


def build_world(engine: Engine) -> World:
    """Load the world through the real import paths; its ids."""
    assert load_portfolio(engine, ROWS).errors == []
    readings = [
        (meter_identity, (FIRST_HOUR + timedelta(hours=hour)).isoformat(), f"{1000 + hour}", "kWh")
        for meter_identity in ("EL-A1", "EL-A2", "EL-B1")
        for hour in range(HOURS + 1)
    ]
    assert ingest(engine, readings).rejected == 0
    _gateway, token_a = register_gateway(
        engine,
        customer="Hem AB",
        identity="gw-a",
        property_designation="Uppsala Kåbo 1:23",
        access=OPERATOR,
        now=NOW,
    )
    _gateway, token_b = register_gateway(
        engine,
        customer="Annat AB",
        identity="gw-b",
        property_designation=None,
        access=OPERATOR,
        now=NOW,
    )
    with engine.begin() as conn:
        customers = dict(conn.execute(sa.select(customer.c.name, customer.c.id)).all())
        properties = dict(conn.execute(sa.select(property_.c.designation, property_.c.id)).all())
        apartments = {
            (row.customer_id, row.number): row.id
            for row in conn.execute(
                sa.select(apartment.c.id, apartment.c.customer_id, apartment.c.number)
            )
        }
        a, b = customers["Hem AB"], customers["Annat AB"]
        a1, a2, b1 = apartments[(a, "1101")], apartments[(a, "1102")], apartments[(b, "1001")]
        points = {
            (row.apartment_id, row.medium): row.id
            for row in conn.execute(
                sa.select(
                    metering_point.c.id, metering_point.c.apartment_id, metering_point.c.medium
                )
            )
        }
        meters = dict(conn.execute(sa.select(meter.c.identity, meter.c.id)).all())

        def tenancy(
            customer_id: int, apartment_id: int, start: datetime, end: datetime | None
        ) -> int:
            return register.add_tenancy(
                conn, customer_id=customer_id, apartment_id=apartment_id, start_at=start, end_at=end
            )

        return World(
            customer_a=a,
            customer_b=b,
            property_a=properties["Uppsala Kåbo 1:23"],
            property_b=properties["Solna Råsunda 4:2"],
            apartment_a1=a1,
            apartment_a2=a2,
            apartment_b1=b1,
            point_a1=points[(a1, "electricity")],
            point_a1_water=points[(a1, "cold_water")],
            point_a2=points[(a2, "electricity")],
            point_b1=points[(b1, "electricity")],
            point_heat_a=points[(None, "heat")],
            meter_a1=meters["EL-A1"],
            meter_a2=meters["EL-A2"],
            meter_b1=meters["EL-B1"],
            tenancy_a1_before=tenancy(a, a1, LONG_AGO, MOVE),
            tenancy_a1=tenancy(a, a1, MOVE, None),
            tenancy_a2=tenancy(a, a2, LONG_AGO, None),
            tenancy_b1=tenancy(b, b1, LONG_AGO, None),
            gateway_token_a=token_a,
            gateway_token_b=token_b,
        )
