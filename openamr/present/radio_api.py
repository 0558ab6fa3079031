"""HTTP: the radio side for operations: gateways' health, and every device heard.

Meter-centric data of the caller's own customer: its administrators and
operations staff (`openamr.guard.policy`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard.http import current_engine, current_now
from openamr.guard.policy import Allow
from openamr.store import telegrams as store

router = APIRouter(prefix="/api/v1", tags=["gateways and devices"])

Staff = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]


class GatewayOut(BaseModel):
    id: int
    identity: str
    property_id: int | None
    last_seen_at: datetime | None
    telegrams_last_hour: int
    telegrams_per_hour_last_day: float
    duplicates_last_day: int
    devices_heard_last_day: int


class DeviceOut(BaseModel):
    manufacturer: str
    device_id: str
    meter_id: int | None
    assigned: bool
    medium: str | None
    last_seen_at: datetime
    rssi_dbm: int | None
    status: int | None
    flags: list[str]
    clock_drift_s: int | None
    telegrams: int
    gateways: int


@router.get("/gateways", summary="Gateways: last seen, telegrams per hour, devices heard")
def get_gateways(
    engine: Annotated[Engine, Depends(current_engine)],
    access: Staff,
    now: Annotated[datetime, Depends(current_now)],
) -> list[GatewayOut]:
    with engine.connect() as conn:
        rows = store.list_gateways(conn, access=access, now=now)
    return [
        GatewayOut(
            id=row.id,
            identity=row.identity,
            property_id=row.property_id,
            last_seen_at=row.last_seen_at,
            telegrams_last_hour=row.telegrams_last_hour,
            telegrams_per_hour_last_day=round(row.telegrams_last_day / 24, 1),
            duplicates_last_day=row.duplicates_last_day,
            devices_heard_last_day=row.devices_heard_last_day,
        )
        for row in rows
    ]


@router.get(
    "/devices",
    summary="Devices heard: meters of the register and unassigned ones",
    description=(
        "Every device whose telegrams reached a gateway, with its latest signal strength, "
        "status byte, flags (leak, burst, dry, tamper, ...) and clock drift. "
        "`unassigned=true` lists only devices the installation register does not know yet: "
        "add them with `openamr import portfolio` and their stored telegrams are processed."
    ),
)
def get_devices(
    engine: Annotated[Engine, Depends(current_engine)],
    access: Staff,
    unassigned: Annotated[bool, Query(description="Only devices not in the register")] = False,
) -> list[DeviceOut]:
    with engine.connect() as conn:
        rows = store.list_heard_devices(conn, access=access, unassigned_only=unassigned)
    return [
        DeviceOut(
            manufacturer=row.manufacturer,
            device_id=row.device_id,
            meter_id=row.meter_id,
            assigned=row.meter_id is not None,
            medium=row.medium,
            last_seen_at=row.last_seen_at,
            rssi_dbm=row.rssi,
            status=row.status,
            flags=list(row.flags),
            clock_drift_s=row.clock_drift_s,
            telegrams=row.telegrams,
            gateways=row.gateways,
        )
        for row in rows
    ]
