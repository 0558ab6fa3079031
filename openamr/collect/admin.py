"""Administrative changes to the register, as the API and the command line make them.

Each operation checks its input (a clear message for each thing wrong with
it: `UnusableInput`), makes the change through the register's store modules (which
keep the caller to its own customers and refuses contradictions), and
writes an audit event in the same transaction, so that a change and its
event commit or roll back together (P9). Events carry ids only, never a
designation, an address or anything else a person could be named by.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import CUSTOMER_ROLES, AccessContext
from openamr.collect.portfolio import APARTMENT_NUMBER, MANUFACTURER
from openamr.guard import households, staff
from openamr.guard.audit import Target, record_access
from openamr.guard.keyring import Keyring
from openamr.guard.signin import MAX_EMAIL_LENGTH, normalise_email
from openamr.store import buildings, customers, identities, meters, tenancies
from openamr.store.identities import TenancyRow
from openamr.store.ownership import UnableToChange, UnableToFind
from openamr.store.staff import StaffRow, find_staff
from openamr.timeutil import UnusableTimestamp, parse_instant
from openamr.units import MEDIUM_QUANTITIES, Medium, UnknownUnit, parse_unit

# Times outside these are typing errors, and near the ends of Python's
# calendar converting them to UTC would overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnusableInput(ValueError):
    """An input that cannot be used as given; the message says what is wrong with it."""


# --- checks of single inputs --------------------------------------------------------------------


def text(value: str, *, field: str, max_length: int = 200) -> str:
    """A name, designation or address: trimmed, not empty, one line, not too long."""
    trimmed = value.strip()
    if not trimmed:
        raise UnusableInput(f"{field} is empty")
    if len(trimmed) > max_length:
        raise UnusableInput(f"{field} is longer than {max_length} characters")
    if CONTROL.search(trimmed):
        raise UnusableInput(f"{field} contains a control character (such as a line break)")
    try:
        trimmed.encode("utf-8")
    except UnicodeEncodeError:
        raise UnusableInput(
            f"{field} contains a character that is not text (a lone surrogate)"
        ) from None
    return trimmed


def apartment_number(value: str) -> str:
    """A Swedish lägenhetsnummer: four digits, floor then door, such as 1102."""
    number = value.strip()
    if not APARTMENT_NUMBER.match(number):
        shown = repr(number) if len(number) <= 8 else f"of {len(number)} characters"
        raise UnusableInput(
            f"apartment number {shown} is not a four-digit lägenhetsnummer such as 1102 "
            "(floor 10 is the entrance floor; then the door, from 01)"
        )
    return number


def medium(value: str) -> Medium:
    try:
        return Medium(value.strip())
    except ValueError:
        raise UnusableInput(
            f"medium {value[:40]!r} is not one of {', '.join(m.value for m in Medium)}"
        ) from None


def time_zone(value: str, *, now: datetime) -> str:
    """An IANA time zone whose days begin on a whole UTC hour (hourly values sum into them)."""
    name = value.strip()
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnusableInput(
            f"time zone {name[:64]!r} is not an IANA time zone such as Europe/Stockholm"
        ) from None
    for moment in (now, now + timedelta(days=182)):
        offset = moment.astimezone(zone).utcoffset() or timedelta()
        if offset % timedelta(hours=1):
            raise UnusableInput(
                f"time zone {name!r} is not a whole number of hours from UTC; "
                "hourly values could not be summed into its days exactly"
            )
    return name


def instant(value: str, *, field: str, zone: str) -> datetime:
    """A UTC instant from a local day (its midnight in `zone`) or a time with an offset."""
    raw = value.strip()
    example = "2026-05-01 (midnight at the property) or 2026-05-01T00:00:00+02:00"
    try:
        if DAY.match(raw):
            moment = datetime.combine(date.fromisoformat(raw), time(), ZoneInfo(zone))
            moment = moment.astimezone(UTC)
        else:
            moment = parse_instant(raw)
    except (ValueError, UnusableTimestamp, OverflowError):
        raise UnusableInput(
            f"{field} {raw[:40]!r} is not a date or time such as {example}"
        ) from None
    if not EARLIEST <= moment < LATEST:
        raise UnusableInput(f"{field} {raw[:40]!r} is not between 1970 and 2100")
    return moment


def register_unit(value: str, *, of: Medium) -> str:
    try:
        unit = parse_unit(value.strip())
    except UnknownUnit as exc:
        raise UnusableInput(str(exc)) from None
    if unit.quantity not in MEDIUM_QUANTITIES[of]:
        raise UnusableInput(f"register unit {unit.symbol} does not measure {of.value}")
    return unit.symbol


def register_digits(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 15:
        raise UnusableInput(f"register_digits {value} must be a whole number from 1 to 15")
    return value


def manufacturer(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if not MANUFACTURER.match(code):
        shown = repr(code) if len(code) <= 8 else f"of {len(code)} characters"
        raise UnusableInput(
            f"manufacturer {shown} is not a three-letter M-Bus code (A to Z, such as KAM)"
        )
    return code


def customer_of(access: AccessContext, customer_id: int | None) -> int:
    """The customer a new object is for: the one given, or the caller's only one."""
    if customer_id is not None:
        return customer_id
    if access.customer_ids is not None and len(access.customer_ids) == 1:
        return next(iter(access.customer_ids))
    raise UnusableInput("customer_id is missing: say which customer it is for")


def _changes(**fields: object) -> None:
    if all(value is None for value in fields.values()):
        raise UnusableInput(f"nothing to change: give {' or '.join(fields)}")


# --- customers ----------------------------------------------------------------------------------


def create_customer(
    conn: sa.Connection, access: AccessContext, *, name: str, now: datetime
) -> customers.CustomerRow:
    row = customers.create_customer(conn, access=access, name=text(name, field="name"), now=now)
    _audit(conn, access, "admin.customer.create", now, Target(customer_id=row.id))
    return row


def rename_customer(
    conn: sa.Connection, access: AccessContext, *, customer_id: int, name: str, now: datetime
) -> customers.CustomerRow:
    row = customers.rename_customer(
        conn, access=access, customer_id=customer_id, name=text(name, field="name")
    )
    _audit(conn, access, "admin.customer.rename", now, Target(customer_id=row.id))
    return row


def set_operations_hourly(
    conn: sa.Connection, access: AccessContext, *, customer_id: int, enabled: bool, now: datetime
) -> customers.CustomerRow:
    """Let the customer's operations staff see hourly values, or stop them (P5)."""
    row = customers.set_operations_hourly(
        conn, access=access, customer_id=customer_id, enabled=enabled
    )
    action = "admin.customer.operations_hourly_" + ("on" if enabled else "off")
    _audit(conn, access, action, now, Target(customer_id=row.id))
    return row


# --- properties, entrances, apartments ----------------------------------------------------------


def create_property(
    conn: sa.Connection,
    access: AccessContext,
    *,
    customer_id: int | None,
    designation: str,
    name: str | None,
    zone: str,
    now: datetime,
) -> buildings.PropertyRow:
    row = buildings.create_property(
        conn,
        access=access,
        customer_id=customer_of(access, customer_id),
        designation=text(designation, field="designation"),
        name=None if name is None else text(name, field="name"),
        time_zone=time_zone(zone, now=now),
    )
    _audit(conn, access, "admin.property.create", now, _of_property(row))
    return row


def update_property(
    conn: sa.Connection,
    access: AccessContext,
    *,
    property_id: int,
    designation: str | None,
    name: str | None,
    now: datetime,
) -> buildings.PropertyRow:
    _changes(designation=designation, name=name)
    row = buildings.update_property(
        conn,
        access=access,
        property_id=property_id,
        designation=None if designation is None else text(designation, field="designation"),
        name=None if name is None else text(name, field="name"),
    )
    _audit(conn, access, "admin.property.update", now, _of_property(row))
    return row


def delete_property(
    conn: sa.Connection, access: AccessContext, *, property_id: int, now: datetime
) -> None:
    row = buildings.delete_property(conn, access=access, property_id=property_id)
    _audit(conn, access, "admin.property.delete", now, _of_property(row))


def create_entrance(
    conn: sa.Connection, access: AccessContext, *, property_id: int, address: str, now: datetime
) -> buildings.EntranceRow:
    row = buildings.create_entrance(
        conn, access=access, property_id=property_id, address=text(address, field="address")
    )
    _audit(conn, access, "admin.entrance.create", now, _of_entrance(row))
    return row


def rename_entrance(
    conn: sa.Connection, access: AccessContext, *, entrance_id: int, address: str, now: datetime
) -> buildings.EntranceRow:
    row = buildings.rename_entrance(
        conn, access=access, entrance_id=entrance_id, address=text(address, field="address")
    )
    _audit(conn, access, "admin.entrance.rename", now, _of_entrance(row))
    return row


def delete_entrance(
    conn: sa.Connection, access: AccessContext, *, entrance_id: int, now: datetime
) -> None:
    row = buildings.delete_entrance(conn, access=access, entrance_id=entrance_id)
    _audit(conn, access, "admin.entrance.delete", now, _of_entrance(row))


def create_apartment(
    conn: sa.Connection, access: AccessContext, *, entrance_id: int, number: str, now: datetime
) -> buildings.ApartmentRow:
    row = buildings.create_apartment(
        conn, access=access, entrance_id=entrance_id, number=apartment_number(number)
    )
    _audit(conn, access, "admin.apartment.create", now, _of_apartment(row))
    return row


def renumber_apartment(
    conn: sa.Connection, access: AccessContext, *, apartment_id: int, number: str, now: datetime
) -> buildings.ApartmentRow:
    row = buildings.renumber_apartment(
        conn, access=access, apartment_id=apartment_id, number=apartment_number(number)
    )
    _audit(conn, access, "admin.apartment.renumber", now, _of_apartment(row))
    return row


def delete_apartment(
    conn: sa.Connection, access: AccessContext, *, apartment_id: int, now: datetime
) -> None:
    row = buildings.delete_apartment(conn, access=access, apartment_id=apartment_id)
    _audit(conn, access, "admin.apartment.delete", now, _of_apartment(row))


def find_apartment_at(
    conn: sa.Connection,
    access: AccessContext,
    *,
    designation: str,
    number: str,
    entrance: str | None = None,
    customer: str | None = None,
) -> buildings.ApartmentRow:
    """The one apartment people mean by property, entrance and number (the command line's way).

    Raises UnableToFind when there is none, UnusableInput when several match
    (the message says what to add).
    """
    found = identities.find_apartments(
        conn,
        access=access,
        designation=designation,
        number=apartment_number(number),
        entrance_address=entrance,
        customer_name=customer,
    )
    if not found:
        raise UnableToFind(f"no apartment {number} in {designation}")
    if len({row.property_id for row in found}) > 1:
        raise UnusableInput(
            f"several customers have a property {designation!r}; name one with --customer"
        )
    if len(found) > 1:
        addresses = ", ".join(row.entrance_address for row in found)
        raise UnusableInput(
            f"apartment {number} exists at several entrances ({addresses}); "
            "name one with --entrance"
        )
    return buildings.find_apartment(conn, access=access, apartment_id=found[0].id)


# --- metering points, meters, installations -----------------------------------------------------


def create_metering_point(
    conn: sa.Connection,
    access: AccessContext,
    *,
    medium_name: str,
    property_id: int | None = None,
    apartment_id: int | None = None,
    now: datetime,
) -> meters.PointRow:
    row = meters.create_metering_point(
        conn,
        access=access,
        medium=medium(medium_name).value,
        property_id=property_id,
        apartment_id=apartment_id,
    )
    _audit(conn, access, "admin.metering_point.create", now, _of_point(row))
    return row


def delete_metering_point(
    conn: sa.Connection, access: AccessContext, *, point_id: int, now: datetime
) -> None:
    row = meters.delete_metering_point(conn, access=access, point_id=point_id)
    _audit(conn, access, "admin.metering_point.delete", now, _of_point(row))


def create_meter(
    conn: sa.Connection,
    access: AccessContext,
    *,
    customer_id: int | None,
    identity: str,
    medium_name: str,
    unit: str,
    digits: int | None,
    manufacturer_code: str | None,
    now: datetime,
) -> meters.MeterRow:
    measured = medium(medium_name)
    row = meters.create_meter(
        conn,
        access=access,
        customer_id=customer_of(access, customer_id),
        identity=text(identity, field="identity", max_length=64),
        medium=measured.value,
        register_unit=register_unit(unit, of=measured),
        register_digits=register_digits(digits),
        manufacturer=manufacturer(manufacturer_code),
    )
    _audit(conn, access, "admin.meter.create", now, Target(customer_id=row.customer_id))
    return row


def update_meter(
    conn: sa.Connection,
    access: AccessContext,
    *,
    meter_id: int,
    identity: str | None,
    manufacturer_code: str | None,
    now: datetime,
) -> meters.MeterRow:
    _changes(identity=identity, manufacturer=manufacturer_code)
    row = meters.update_meter(
        conn,
        access=access,
        meter_id=meter_id,
        identity=None if identity is None else text(identity, field="identity", max_length=64),
        manufacturer=manufacturer(manufacturer_code),
    )
    _audit(conn, access, "admin.meter.update", now, Target(customer_id=row.customer_id))
    return row


def delete_meter(
    conn: sa.Connection, access: AccessContext, *, meter_id: int, now: datetime
) -> None:
    row = meters.delete_meter(conn, access=access, meter_id=meter_id)
    _audit(conn, access, "admin.meter.delete", now, Target(customer_id=row.customer_id))


def install_meter(
    conn: sa.Connection,
    access: AccessContext,
    *,
    meter_id: int,
    point_id: int,
    installed_at: str,
    now: datetime,
) -> meters.InstallationRow:
    point = meters.find_metering_point(conn, access=access, point_id=point_id)
    zone = buildings.find_property(conn, access=access, property_id=point.property_id).time_zone
    row = meters.install_meter(
        conn,
        access=access,
        meter_id=meter_id,
        point_id=point.id,
        installed_at=instant(installed_at, field="installed_at", zone=zone),
    )
    _audit(conn, access, "admin.meter.install", now, _of_point(point))
    return row


def remove_meter(
    conn: sa.Connection,
    access: AccessContext,
    *,
    installation_id: int,
    removed_at: str,
    now: datetime,
) -> meters.InstallationRow:
    found = meters.find_installation(conn, access=access, installation_id=installation_id)
    point = meters.find_metering_point(conn, access=access, point_id=found.metering_point_id)
    zone = buildings.find_property(conn, access=access, property_id=point.property_id).time_zone
    row = meters.remove_meter(
        conn,
        access=access,
        installation_id=found.id,
        removed_at=instant(removed_at, field="removed_at", zone=zone),
    )
    _audit(conn, access, "admin.meter.remove", now, _of_point(point))
    return row


# --- tenancies ----------------------------------------------------------------------------------


def move_in(
    conn: sa.Connection, access: AccessContext, *, apartment_id: int, start: str, now: datetime
) -> TenancyRow:
    """A new household's tenancy from `start` (a local day at the property, or an instant)."""
    flat = buildings.find_apartment(conn, access=access, apartment_id=apartment_id)
    row = tenancies.move_in(
        conn,
        access=access,
        apartment_id=flat.id,
        start_at=instant(start, field="start", zone=flat.time_zone),
    )
    _audit(conn, access, "admin.tenancy.move_in", now, _of_tenancy(row))
    return row


def move_out(
    conn: sa.Connection, access: AccessContext, *, tenancy_id: int, end: str, now: datetime
) -> tenancies.MoveOut:
    """End a tenancy at `end` (exclusive: the first day or instant no longer the household's).

    The household's sessions and unused access codes end with it (see
    `openamr.store.tenancies.move_out`).
    """
    found = tenancies.find_tenancy(conn, access=access, tenancy_id=tenancy_id)
    zone = buildings.find_property(conn, access=access, property_id=found.property_id).time_zone
    done = tenancies.move_out(
        conn,
        access=access,
        tenancy_id=found.id,
        end_at=instant(end, field="end", zone=zone),
        now=now,
    )
    _audit(conn, access, "admin.tenancy.move_out", now, _of_tenancy(done.tenancy))
    return done


def move_out_of(
    conn: sa.Connection, access: AccessContext, *, apartment_id: int, end: str, now: datetime
) -> tenancies.MoveOut:
    """End the apartment's current tenancy (the one without an end). Raises UnableToFind."""
    current = tenancies.find_open_tenancy(conn, access=access, apartment_id=apartment_id)
    if current is None:
        raise UnableToChange(f"apartment {apartment_id} has no tenancy without an end")
    return move_out(conn, access, tenancy_id=current.id, end=end, now=now)


# --- access codes and staff (through openamr.guard, which audits them) --------------------------


def issue_letter(
    conn: sa.Connection,
    access: AccessContext,
    *,
    apartment_id: int,
    valid_for: timedelta,
    now: datetime,
) -> households.IssuedCode:
    """An access code for the apartment's tenancy now (or the next, before a move-in), to print
    as a letter. Earlier unused letters of the tenancy stop working. Raises UnableToFind,
    UnableToChange."""
    flat = buildings.find_apartment(conn, access=access, apartment_id=apartment_id)
    current = identities.current_tenancy(conn, apartment_id=flat.id, now=now, access=access)
    if current is None:
        raise UnableToChange(
            f"apartment {flat.id} has no tenancy now or to come; record the move-in first"
        )
    try:
        return households.issue_access_code(
            conn,
            tenancy_id=current.id,
            issued_by=access,
            now=now,
            kind=households.LETTER,
            valid_for=valid_for,
        )
    except households.UnableToIssueAccessCode as exc:
        raise UnableToChange(str(exc)) from None


def revoke_access_codes(
    conn: sa.Connection, access: AccessContext, *, tenancy_id: int, now: datetime
) -> int:
    """Revoke the tenancy's access codes not yet used (a lost letter); how many. Codes already
    redeemed are credentials now, and end with the tenancy. Raises UnableToFind."""
    found = tenancies.find_tenancy(conn, access=access, tenancy_id=tenancy_id)
    revoked = sum(
        identities.revoke_unused_codes(conn, tenancy_id=found.id, kind=kind, now=now)
        for kind in households.KINDS
    )
    _audit(conn, access, "admin.access_code.revoke", now, _of_tenancy(found))
    return revoked


def add_staff(
    engine: Engine,
    access: AccessContext,
    *,
    email: str,
    role: str,
    second_factor: bool,
    keyring: Keyring,
    now: datetime,
) -> staff.NewStaffAccount:
    """A staff account of the caller's customer, with a passphrase shown once (and a TOTP
    secret if asked). Raises UnusableInput, UnableToChange, NoMasterKey."""
    address = normalise_email(email)
    if len(address) > MAX_EMAIL_LENGTH or not staff.EMAIL.match(address):
        raise UnusableInput("email must be a business address of the form name@example.se")
    wanted = next((r for r in CUSTOMER_ROLES if r.value == role), None)
    if wanted is None:
        allowed = " or ".join(sorted(r.value for r in CUSTOMER_ROLES))
        raise UnusableInput(f"role {role[:40]!r} is not a role of a customer's staff: {allowed}")
    with engine.connect() as conn:
        name = customers.find_customer(
            conn, access=access, customer_id=customer_of(access, None)
        ).name
    try:
        return staff.create_staff_account(
            engine,
            access=access,
            email=address,
            role=wanted,
            customer=name,
            keyring=keyring,
            now=now,
            with_totp=second_factor,
        )
    except staff.UnableToManageStaff as exc:
        raise UnableToChange(str(exc)) from None


def disable_staff(
    engine: Engine, access: AccessContext, *, staff_id: int, now: datetime
) -> StaffRow:
    """Disable one of the customer's staff accounts; its sessions end. Raises UnableToFind,
    UnableToChange."""
    with engine.connect() as conn:
        found = find_staff(conn, access=access, staff_id=staff_id)
    if access.actor == f"staff:{found.id}":
        raise UnableToChange("you cannot disable your own account; ask another administrator")
    if found.disabled_at is None:
        try:
            staff.disable_staff_account(engine, access=access, email=found.email, now=now)
        except staff.UnableToManageStaff as exc:
            raise UnableToChange(str(exc)) from None
    with engine.connect() as conn:
        return find_staff(conn, access=access, staff_id=staff_id)


# --- the audit events ---------------------------------------------------------------------------


def _audit(
    conn: sa.Connection, access: AccessContext, action: str, now: datetime, target: Target
) -> None:
    record_access(conn, access, action=action, now=now, target=target)


def _of_property(row: buildings.PropertyRow) -> Target:
    return Target(customer_id=row.customer_id, property_id=row.id)


def _of_entrance(row: buildings.EntranceRow) -> Target:
    return Target(customer_id=row.customer_id, property_id=row.property_id)


def _of_apartment(row: buildings.ApartmentRow) -> Target:
    return Target(customer_id=row.customer_id, property_id=row.property_id, apartment_id=row.id)


def _of_point(row: meters.PointRow) -> Target:
    return Target(
        customer_id=row.customer_id, property_id=row.property_id, apartment_id=row.apartment_id
    )


def _of_tenancy(row: TenancyRow) -> Target:
    return Target(
        customer_id=row.customer_id,
        property_id=row.property_id,
        apartment_id=row.apartment_id,
        tenancy_id=row.id,
    )
