"""A seeded, pure generator of a realistic Swedish demo portfolio: meters, tenancies, readings."""

from __future__ import annotations

import calendar
import math
import random
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

TIME_ZONE = ZoneInfo("Europe/Stockholm")
HOUR = timedelta(hours=1)

# How often meters report, by age of the reading (days before `end`). Hourly
# readings of ~1 200 meters for 13 months would be ~10 million rows, too many
# to load for a demo; with older data thinner, scale 1 has ~1.8 million:
#   electricity     hourly for 62 days, every 4 hours to 153 days, daily before
#   water and heat  hourly for 31 days (every 4 hours at properties whose
#                   gateways send every 4 hours), every 4 hours to 92 days,
#                   daily before
#   heat cost allocators daily; property main heat meters hourly throughout
# "Every 4 hours" and "daily" follow local time (00, 04, 08, ... and 00), as
# gateways configured by the property owner do.
SCHEDULES: dict[str, tuple[int, int]] = {
    "hourly": (100_000, 100_000),
    "electricity": (62, 153),
    "water/1": (31, 92),
    "water/4": (0, 92),
    "daily": (0, 0),
}

# Meters report a few minutes past the hour (each its own minute) plus up to
# this much jitter; kept under 15 minutes so a reading stays in its hour.
_JITTER_S = 90
_OFFSETS = tuple(timedelta(seconds=second) for second in range(900))
_INV_SQRT = tuple([0.0] + [1.0 / math.sqrt(hours) for hours in range(1, 200)])


@dataclass(frozen=True, slots=True)
class InstallationRow:
    """One row of the installation register CSV: a meter on a metering point for a period."""

    customer: str
    property: str
    entrance: str
    apartment: str  # "" for a property-level point
    medium: str
    meter: str
    register_unit: str
    register_digits: int  # the register wraps at 10**digits register_unit
    installed_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TenancyRow:
    """A household's half-open period in an apartment; no names."""

    property: str
    entrance: str
    apartment: str
    start_at: datetime
    end_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """A register value as the meter reports it, at an aware UTC instant."""

    meter: str
    timestamp: datetime
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class DemoCase:
    """Something worth looking at in the demo, and where to find it."""

    kind: str  # running_toilet | silent_meter | rollover | meter_replacement | move_out | move_in
    description: str
    property: str
    entrance: str
    apartment: str
    medium: str
    meter: str


@dataclass(frozen=True, slots=True)
class _Timeline:
    """The hour slots of the demo period and everything shared by all meters."""

    seed: int
    start: datetime
    slots: int
    times: tuple[datetime, ...]  # UTC start of each hour slot
    cumulative: Mapping[str, Sequence[float]]  # shape name -> consumption before each slot
    schedules: Mapping[str, tuple[int, ...]]  # schedule name -> slots with a reading

    def slot_of(self, moment: datetime) -> int:
        """The slot holding `moment`, clamped into the period."""
        hours = (moment - self.start) // HOUR
        return min(max(hours, 0), self.slots)


@dataclass(frozen=True, slots=True)
class _MeterPlan:
    """How one meter's register moves; amounts are in steps of its resolution."""

    meter: str
    unit: str
    decimals: int
    modulus: int  # the register wraps here, in steps
    schedule: str
    first_slot: int
    last_slot: int  # exclusive
    start_steps: float
    base: float  # steps per hour whatever the household does (fridge, circulation)
    shape: str
    level: float  # steps per unit of the shape
    spread: float  # relative noise of one hour's consumption
    offset_s: int
    presence: tuple[tuple[int, float], ...] = ()  # (from slot, factor) on the shape
    leak: tuple[int, float] | None = None  # (from slot, steps per hour)
    second_shape: str | None = None
    second_level: float = 0.0
    opening_at: datetime | None = None  # a reading at installation, before the first slot
    closing: tuple[int, datetime] | None = None  # a final reading at removal
    skip: frozenset[int] = frozenset()  # slots lost to a gateway outage


@dataclass(frozen=True, slots=True)
class DemoPortfolio:
    """The installation register, tenancies and cases, with readings generated on demand."""

    installations: list[InstallationRow]
    tenancies: list[TenancyRow]
    cases: list[DemoCase]
    _timeline: _Timeline | None = field(default=None, repr=False, compare=False)
    _plans: tuple[_MeterPlan, ...] = field(default=(), repr=False, compare=False)

    def readings(self) -> Iterator[ReadingRow]:
        """Every reading, meter by meter in time order; the same rows on every call."""
        if self._timeline is None:
            return
        for plan in self._plans:
            yield from _meter_readings(plan, self._timeline)


@dataclass(frozen=True, slots=True)
class _Layout:
    customer: str
    designation: str
    city: str
    entrances: tuple[str, ...]
    floors: tuple[int, ...]  # 10 is the entrance floor, 09 a souterrain
    doors: int
    heat: str  # units (heat cost allocators) | kWh | GJ (apartment heat meters)
    gateway_hours: int  # how often water and heat meters report in the recent weeks
    electricity: tuple[str, int]  # manufacturer code, register digits


# 36 + 40 + 96 + 56 + 72 = 300 apartments at scale 1.
LAYOUTS = (
    _Layout(
        "Fyrishem demo",
        "Uppsala Kåbo 1:23",
        "Uppsala",
        ("Kåbovägen 12A", "Kåbovägen 12B", "Kåbovägen 14"),
        (10, 11, 12, 13),
        3,
        "units",
        4,
        ("ABB", 6),
    ),
    _Layout(
        "Fyrishem demo",
        "Uppsala Luthagen 31:7",
        "Uppsala",
        ("Väderkvarnsgatan 38", "Väderkvarnsgatan 40"),
        (10, 11, 12, 13, 14),
        4,
        "units",
        1,
        ("ABB", 6),
    ),
    _Layout(
        "Fyrishem demo",
        "Uppsala Eriksberg 4:112",
        "Uppsala",
        ("Ärnavägen 21", "Ärnavägen 23", "Ärnavägen 25"),
        (10, 11, 12, 13, 14, 15, 16, 17),
        4,
        "kWh",
        1,
        ("ABB", 6),
    ),
    _Layout(
        "Gävlebostäder demo",
        "Gävle Brynäs 12:4",
        "Gävle",
        ("Södra Kungsgatan 40A", "Södra Kungsgatan 40B"),
        (10, 11, 12, 13, 14, 15, 16),
        4,
        "kWh",
        1,
        ("KAM", 7),
    ),
    _Layout(
        "Gävlebostäder demo",
        "Gävle Sätra 5:21",
        "Gävle",
        ("Sätravägen 9", "Sätravägen 11", "Sätravägen 13", "Sätravägen 15"),
        (9, 10, 11),
        6,
        "GJ",
        4,
        ("KAM", 7),
    ),
)

# Normal outdoor temperature: yearly mean and half the swing between the
# coldest (late January) and warmest weeks.
_CLIMATE = {"Uppsala": (6.3, 10.8), "Gävle": (5.6, 11.2)}


def _by_hour(weekday: str, weekend: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    tables = tuple(tuple(float(word) for word in text.split()) for text in (weekday, weekend))
    assert all(len(table) == 24 for table in tables)
    return tables[0], tables[1]


# Relative use by local hour (00 to 23), weekdays and weekends: peaks before
# work and in the evening. Water is not drawn at night, so a leak stands out.
_ELECTRICITY = _by_hour(
    ".12 .06 .05 .05 .05 .10 .50 .90 .60 .30 .25 .30 .35 .30 .30 .35 .55 .90 1 .95 .85 .70 .50 .25",
    ".15 .08 .05 .05 .05 .05 .10 .30 .60 .80 .70 .60 .65 .55 .50 .50 .60 .85 1 .95 .85 .75 .55 .30",
)
_HOT_WATER = _by_hour(
    "0 0 0 0 0 .05 .60 1.0 .70 .30 .15 .15 .20 .15 .12 .15 .30 .45 .60 .75 .80 .70 .40 .10",
    "0 0 0 0 0 0 .05 .30 .70 .90 .70 .40 .35 .30 .25 .25 .30 .45 .60 .75 .80 .70 .45 .15",
)
_COLD_WATER = _by_hour(
    "0 0 0 0 0 .10 .70 1.0 .60 .30 .20 .25 .35 .25 .20 .25 .40 .60 .80 .70 .65 .60 .45 .15",
    "0 0 0 0 0 0 .10 .35 .70 .85 .70 .50 .50 .40 .35 .35 .40 .60 .80 .70 .65 .60 .45 .20",
)
# Households keep different hours: a profile shifted one hour earlier or later.
_VARIANTS = {"early": 1, "day": 0, "late": -1}


def generate_demo(
    *, seed: int = 2026, end: datetime, months: int = 13, scale: float = 1.0
) -> DemoPortfolio:
    """A portfolio with readings for `months` months before `end`; the same for the same input.

    `scale` multiplies the number of apartments (about 300 at 1.0). Readings
    are generated only when `readings()` is iterated. Raises ValueError for a
    naive `end`, fewer than one month, or a scale not above 0 and at most 20
    (or one that would need floors above 99).
    """
    if end.tzinfo is None:
        raise ValueError("end must be an aware datetime, e.g. 2026-03-01T00:00:00+00:00")
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    if not 0 < scale <= 20:
        raise ValueError(f"scale must be above 0 and at most 20, not {scale}")
    rng = random.Random(seed)  # noqa: S311  # nosec B311: demo data, not secrets
    timeline = _build_timeline(seed, end, months, rng)
    builder = _Builder(rng, timeline)
    for layout in LAYOUTS:
        builder.add_property(layout, scale)
    builder.add_cases()
    return DemoPortfolio(
        installations=builder.installations,
        tenancies=builder.tenancies,
        cases=builder.cases,
        _timeline=timeline,
        _plans=tuple(builder.plans[row.meter] for row in builder.installations),
    )


def _months_before(moment: datetime, months: int) -> datetime:
    year, month0 = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def _build_timeline(seed: int, end: datetime, months: int, rng: random.Random) -> _Timeline:
    end_utc = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start_local = _months_before(end_utc.astimezone(TIME_ZONE), months)
    start = start_local.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    slots = (end_utc - start) // HOUR
    times = tuple(start + HOUR * index for index in range(slots))
    local = [moment.astimezone(TIME_ZONE) for moment in times]
    first_day = local[0].date().toordinal()
    days = local[-1].date().toordinal() - first_day + 1

    shapes: dict[str, list[float]] = {}
    for name, table in (
        ("electricity", _ELECTRICITY),
        ("hot_water", _HOT_WATER),
        ("cold_water", _COLD_WATER),
    ):
        for variant, shift in _VARIANTS.items():
            weights: list[float] = []
            for moment in local:
                day_type = 1 if moment.weekday() >= 5 else 0
                weight = table[day_type][(moment.hour + shift) % 24]
                # More light and cooking in the dark half of the year.
                season = math.cos(2 * math.pi * (moment.timetuple().tm_yday - 356) / 365.25)
                weight *= 1 + (0.3 if name == "electricity" else 0.06) * season
                weights.append(weight)
            shapes[f"{name}/{variant}"] = weights
    for city, (mean_c, swing_c) in _CLIMATE.items():
        # Weather: the normal curve plus a persistent anomaly (cold snaps, mild spells).
        anomaly = [rng.gauss(0.0, 3.7)]
        for _day in range(days):
            anomaly.append(0.8 * anomaly[-1] + rng.gauss(0.0, 2.2))
        weights = []
        for moment in local:
            day_index = moment.date().toordinal() - first_day
            normal = mean_c - swing_c * math.cos(
                2 * math.pi * (moment.timetuple().tm_yday - 22) / 365.25
            )
            daily_c = normal + anomaly[day_index]
            hour_c = daily_c + 2.5 * math.cos(2 * math.pi * (moment.hour - 15) / 24)
            # Radiators are shut off for the summer once days are warm; below that the
            # demand follows degree-hours under 17 °C (indoor gains cover the rest).
            weights.append(0.0 if daily_c >= 13.0 else max(0.0, 17.0 - hour_c))
        shapes[f"heat/{city}"] = weights

    cumulative: dict[str, list[float]] = {}
    for name, weights in shapes.items():
        total = 0.0
        running = [0.0]
        for weight in weights:
            total += weight
            running.append(total)
        cumulative[name] = running

    schedules: dict[str, tuple[int, ...]] = {}
    for name, (hourly_days, four_hour_days) in SCHEDULES.items():
        chosen = []
        for index, moment in enumerate(local):
            age_h = slots - index
            if (
                age_h <= hourly_days * 24
                or (age_h <= four_hour_days * 24 and moment.hour % 4 == 0)
                or moment.hour == 0
            ):
                chosen.append(index)
        schedules[name] = tuple(chosen)
    return _Timeline(seed, start, slots, times, cumulative, schedules)


@dataclass
class _Apartment:
    layout: _Layout
    entrance: str
    number: str
    household: float  # how much this household uses compared with a typical one
    variant: str
    presence: list[tuple[int, int, float]]  # [from, to) slot ranges with a factor on use
    meters: dict[str, str] = field(default_factory=dict)  # medium -> current meter
    history: list[tuple[str, str]] = field(default_factory=list)  # (medium, meter), all


class _Builder:
    """Assembles the register and the meter plans, drawing every choice from one Random."""

    def __init__(self, rng: random.Random, timeline: _Timeline) -> None:
        self.rng = rng
        self.tl = timeline
        self.installations: list[InstallationRow] = []
        self.tenancies: list[TenancyRow] = []
        self.cases: list[DemoCase] = []
        self.plans: dict[str, _MeterPlan] = {}
        self.apartments: list[_Apartment] = []
        self.skips: dict[str, frozenset[int]] = {}
        self._identities: set[str] = set()

    # -- identities and times ------------------------------------------------

    def identity(self, manufacturer: str) -> str:
        while True:
            candidate = f"{manufacturer}-{self.rng.randrange(10_000_000, 100_000_000)}"
            if candidate not in self._identities:
                self._identities.add(candidate)
                return candidate

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, TIME_ZONE).astimezone(UTC)

    def days_before_end(self, days: float, fraction: float) -> date:
        """A local day `days` before the end, or `fraction` of a shorter period."""
        hours = min(days * 24, fraction * self.tl.slots)
        end_local = (self.tl.start + HOUR * self.tl.slots).astimezone(TIME_ZONE)
        return (end_local - timedelta(hours=hours)).date()

    def before_start(self, min_days: int, max_days: int) -> datetime:
        first = self.tl.start.astimezone(TIME_ZONE).date()
        day = first - timedelta(days=self.rng.randint(min_days, max_days))
        return self.local(day, time(self.rng.randint(8, 15), self.rng.choice((0, 15, 30, 45))))

    # -- the portfolio ---------------------------------------------------------

    def add_property(self, layout: _Layout, scale: float) -> None:
        per_entrance = len(layout.floors) * layout.doors
        wanted = max(1, round(per_entrance * scale))
        floors = list(layout.floors)
        while len(floors) * layout.doors < wanted:
            floors.append(floors[-1] + 1)
        if floors[-1] > 99:
            raise ValueError(f"scale {scale} needs more floors than a lägenhetsnummer can hold")
        numbers = [
            f"{floor:02d}{door:02d}" for floor in floors for door in range(1, 1 + layout.doors)
        ]
        # Spread a small demo over the whole house rather than the lowest floor.
        chosen = [numbers[index * len(numbers) // wanted] for index in range(wanted)]
        for entrance in layout.entrances:
            self.skips[entrance] = self.outages()  # one gateway per entrance
            for number in chosen:
                apartment = _Apartment(
                    layout,
                    entrance,
                    number,
                    household=math.exp(self.rng.gauss(0.0, 0.35)),
                    variant=self.rng.choice(tuple(_VARIANTS)),
                    presence=self.holidays(),
                )
                self.apartments.append(apartment)
                self.add_apartment_meters(apartment)
        self.add_main_heat(layout, apartments=wanted * len(layout.entrances))

    def outages(self) -> frozenset[int]:
        """Hours a gateway did not get through (power cut, mobile network down)."""
        lost: set[int] = set()
        for _outage in range(self.rng.choice((0, 0, 1, 1, 2))):
            first = self.rng.randrange(self.tl.slots)
            lost.update(range(first, first + self.rng.randint(3, 30)))
        return frozenset(lost)

    def holidays(self) -> list[tuple[int, int, float]]:
        """Weeks away in July and over Christmas, when only the fridge keeps going."""
        away: list[tuple[int, int, float]] = []
        first = self.tl.start.astimezone(TIME_ZONE).year
        for year in range(first, first + 3):
            if self.rng.random() < 0.6:
                leave = date(year, 7, self.rng.randint(1, 20))
                away.append(self.away(leave, leave + timedelta(days=self.rng.randint(7, 21))))
            if self.rng.random() < 0.25:
                away.append(self.away(date(year, 12, 22), date(year + 1, 1, 2)))
        return away

    def away(self, leave: date, back: date) -> tuple[int, int, float]:
        return (
            self.tl.slot_of(self.local(leave, time(9))),
            self.tl.slot_of(self.local(back, time(17))),
            0.0,
        )

    def install(
        self,
        apartment: _Apartment | None,
        layout: _Layout,
        entrance: str,
        medium: str,
        meter: str,
        unit: str,
        digits: int,
        installed_at: datetime,
    ) -> None:
        self.installations.append(
            InstallationRow(
                customer=layout.customer,
                property=layout.designation,
                entrance=entrance,
                apartment=apartment.number if apartment else "",
                medium=medium,
                meter=meter,
                register_unit=unit,
                register_digits=digits,
                installed_at=installed_at,
                removed_at=None,
            )
        )
        if apartment is not None:
            apartment.meters[medium] = meter
            apartment.history.append((medium, meter))

    def add_meter(
        self,
        apartment: _Apartment | None,
        layout: _Layout,
        medium: str,
        register: tuple[str, str, int, int],  # manufacturer, unit, decimals, digits
        *,
        schedule: str,
        shape: str,
        start_steps: float,
        level: float,
        spread: float,
        base: float = 0.0,
        second: tuple[str, float] | None = None,  # another shape and its level
        installed_days_before: tuple[int, int] = (30, 2000),  # a range of days before the start
    ) -> None:
        """A meter installed before the readings start, and how its register moves."""
        manufacturer, unit, decimals, digits = register
        meter = self.identity(manufacturer)
        entrance = apartment.entrance if apartment else layout.entrances[0]
        installed_at = self.before_start(*installed_days_before)
        self.install(apartment, layout, entrance, medium, meter, unit, digits, installed_at)
        self.plans[meter] = _MeterPlan(
            meter=meter,
            unit=unit,
            decimals=decimals,
            modulus=10 ** (digits + decimals),
            schedule=schedule,
            first_slot=0,
            last_slot=self.tl.slots,
            start_steps=start_steps,
            base=base,
            shape=shape,
            level=level,
            spread=spread,
            offset_s=self.rng.randint(60, 720),
            second_shape=second[0] if second else None,
            second_level=second[1] if second else 0.0,
            skip=self.skips[entrance] if apartment else frozenset(),
        )

    def add_apartment_meters(self, apt: _Apartment) -> None:
        layout, rng = apt.layout, self.rng
        water = f"water/{layout.gateway_hours}"
        manufacturer, digits = layout.electricity
        # Amounts are in steps of each register's resolution: 10 Wh, 1 L, 100 Wh, 1 MJ.
        self.add_meter(
            apt,
            layout,
            "electricity",
            (manufacturer, "kWh", 2, digits),
            schedule="electricity",
            shape=f"electricity/{apt.variant}",
            start_steps=rng.uniform(1_500, 45_000) * 100,
            base=rng.uniform(0.05, 0.11) * 100,  # fridge, freezer, standby: 50-110 W
            level=0.25 * apt.household * 100,
            spread=0.5,
        )
        for medium, litres in (("hot_water", 14.0), ("cold_water", 20.0)):
            self.add_meter(
                apt,
                layout,
                medium,
                ("DME" if layout.city == "Uppsala" else "AXI", "m3", 3, 5),
                schedule=water,
                shape=f"{medium}/{apt.variant}",
                start_steps=rng.uniform(20, 700) * 1000,
                level=litres * apt.household,
                spread=0.9,
            )
        heat = f"heat/{layout.city}"
        size = rng.uniform(0.6, 1.5)  # one room or five, north or south facing
        if layout.heat == "units":
            self.add_meter(
                apt,
                layout,
                "heat_cost_allocator",
                ("QDS", "units", 0, 6),
                schedule="daily",
                shape=heat,
                start_steps=rng.uniform(500, 9_000),
                level=0.012 * size,
                spread=0.15,
            )
        elif layout.heat == "kWh":
            self.add_meter(
                apt,
                layout,
                "heat",
                ("KAM", "kWh", 1, 7),
                schedule=water,
                shape=heat,
                start_steps=rng.uniform(2_000, 60_000) * 10,
                level=0.65 * size,
                spread=0.2,
            )
        else:
            self.add_meter(
                apt,
                layout,
                "heat",
                ("KAM", "GJ", 3, 5),
                schedule=water,
                shape=heat,
                start_steps=rng.uniform(8, 200) * 1000,
                level=0.065 * 3.6 * size,
                spread=0.2,
            )
        self.tenancies.append(self.tenancy(apt))

    def add_main_heat(self, layout: _Layout, apartments: int) -> None:
        # Steps are kWh. The substation heats the radiators, the hot water
        # (about 55 kWh per m3) and the circulation that keeps it hot.
        self.add_meter(
            None,
            layout,
            "heat",
            ("KAM", "MWh", 3, 6),
            schedule="hourly",
            shape=f"heat/{layout.city}",
            level=0.075 * apartments,
            second=("hot_water/day", 0.055 * 14.0 * apartments),
            start_steps=self.rng.uniform(1_000, 8_000) * 1000,
            base=0.1 * apartments,
            spread=0.1,
            installed_days_before=(2000, 5000),
        )

    def tenancy(self, apt: _Apartment) -> TenancyRow:
        first = self.tl.start.astimezone(TIME_ZONE).date()
        moved_in = date(first.year - self.rng.randint(1, 15), self.rng.randint(1, 12), 1)
        return TenancyRow(
            apt.layout.designation,
            apt.entrance,
            apt.number,
            start_at=self.local(moved_in, time(0)),
            end_at=None,
        )

    # -- the cases -----------------------------------------------------------

    def pick(self, designation: str) -> _Apartment:
        return self.rng.choice(
            [apt for apt in self.apartments if apt.layout.designation == designation]
        )

    def case(self, kind: str, description: str, apt: _Apartment, medium: str, meter: str) -> None:
        self.cases.append(
            DemoCase(
                kind, description, apt.layout.designation, apt.entrance, apt.number, medium, meter
            )
        )

    def add_cases(self) -> None:
        self.add_running_toilet(self.pick("Uppsala Luthagen 31:7"))
        self.add_rollover(self.pick("Uppsala Eriksberg 4:112"))
        self.add_replacement(self.pick("Gävle Brynäs 12:4"))
        self.add_silent_meter(self.pick("Gävle Sätra 5:21"))
        self.add_move(self.pick("Uppsala Kåbo 1:23"))
        for apt in self.apartments:
            self.apply_presence(apt)

    def add_running_toilet(self, apt: _Apartment) -> None:
        day = self.days_before_end(38, 0.4)
        meter = apt.meters["cold_water"]
        litres_per_hour = 12.0
        slot = self.tl.slot_of(self.local(day, time(23)))
        self.plans[meter] = replace(self.plans[meter], leak=(slot, litres_per_hour))
        self.case(
            "running_toilet",
            f"Cold water keeps running at night from {day:%Y-%m-%d} 23:00, about "
            f"{litres_per_hour:.0f} L an hour: a running toilet or a dripping tap.",
            apt,
            "cold_water",
            meter,
        )

    def add_rollover(self, apt: _Apartment) -> None:
        # An older cold-water meter that counts whole litres on five digits wraps at
        # 100 000 L (100 m3); it is started so that it wraps some weeks before the end.
        meter = apt.meters["cold_water"]
        index = next(i for i, item in enumerate(self.installations) if item.meter == meter)
        self.installations[index] = replace(self.installations[index], register_unit="L")
        # A modest household without holidays, so that the wrap falls near the day named.
        apt.household = min(apt.household, 1.3)
        apt.presence = []
        shape = f"cold_water/{apt.variant}"
        wrap_day = self.days_before_end(45, 0.5)
        wrap_slot = self.tl.slot_of(self.local(wrap_day, time(12)))
        level = 20.0 * apt.household
        expected = level * self.tl.cumulative[shape][wrap_slot]
        self.plans[meter] = replace(
            self.plans[meter],
            unit="L",
            decimals=0,
            modulus=100_000,
            shape=shape,
            level=level,
            start_steps=max(0.0, 100_000 - expected),
        )
        self.case(
            "rollover",
            f"The cold-water register counts litres on five digits and wraps from 99999 L "
            f"to 0 around {wrap_day:%Y-%m-%d}; consumption must not go negative there.",
            apt,
            "cold_water",
            meter,
        )

    def add_replacement(self, apt: _Apartment) -> None:
        day = self.days_before_end(50, 0.5)
        at = self.local(day, time(10, 20))
        slot = self.tl.slot_of(at)
        old = apt.meters["electricity"]
        index = next(i for i, item in enumerate(self.installations) if item.meter == old)
        self.installations[index] = replace(self.installations[index], removed_at=at)
        self.plans[old] = replace(self.plans[old], last_slot=slot, closing=(slot, at))
        meter = self.identity("KAM")
        self.install(apt, apt.layout, apt.entrance, "electricity", meter, "kWh", 7, at)
        self.plans[meter] = replace(
            self.plans[old],
            meter=meter,
            modulus=10 ** (7 + 2),
            first_slot=slot,
            last_slot=self.tl.slots,
            start_steps=float(self.rng.randint(0, 3)),  # a few Wh from the installer's test
            offset_s=self.rng.randint(60, 720),
            opening_at=at,
            closing=None,
        )
        self.case(
            "meter_replacement",
            f"Electricity meter {old} was replaced at {day:%Y-%m-%d} 10:20 by {meter}, which "
            "starts near 0 kWh; the old meter's final reading and the new one's first are at "
            "that instant, and the consumption across it must not jump.",
            apt,
            "electricity",
            meter,
        )

    def add_silent_meter(self, apt: _Apartment) -> None:
        day = self.days_before_end(23, 0.3)
        meter = apt.meters["heat"]
        slot = self.tl.slot_of(self.local(day, time(14)))
        self.plans[meter] = replace(self.plans[meter], last_slot=slot)
        self.case(
            "silent_meter",
            f"The apartment heat meter has not reported since {day:%Y-%m-%d} 14:00 "
            "(a flat battery or a broken radio link).",
            apt,
            "heat",
            meter,
        )

    def add_move(self, apt: _Apartment) -> None:
        out_day = self.days_before_end(61, 0.5)
        in_day = out_day + timedelta(days=4)
        moved_out, moved_in = self.local(out_day, time(0)), self.local(in_day, time(0))
        index = next(
            i
            for i, item in enumerate(self.tenancies)
            if (item.property, item.entrance, item.apartment)
            == (apt.layout.designation, apt.entrance, apt.number)
        )
        earlier = self.tenancies[index]
        self.tenancies[index] = TenancyRow(
            earlier.property, earlier.entrance, earlier.apartment, earlier.start_at, moved_out
        )
        self.tenancies.append(
            TenancyRow(earlier.property, earlier.entrance, earlier.apartment, moved_in, None)
        )
        # Empty for four days, then a bigger household than before.
        apt.presence = [
            (self.tl.slot_of(moved_out), self.tl.slot_of(moved_in), 0.0),
            (self.tl.slot_of(moved_in), self.tl.slots, 1.6),
        ]
        meter = apt.meters["electricity"]
        self.case(
            "move_out",
            f"The tenancy ended on {out_day:%Y-%m-%d}; the apartment stood empty for four days "
            "with only the base load. That household no longer sees anything.",
            apt,
            "electricity",
            meter,
        )
        self.case(
            "move_in",
            f"A new tenancy started on {in_day:%Y-%m-%d}, a household that uses more; it sees "
            "its own data from that day and nothing from before.",
            apt,
            "electricity",
            meter,
        )

    def apply_presence(self, apt: _Apartment) -> None:
        if not apt.presence:
            return
        changes = _presence_changes(apt.presence)
        for medium, meter in apt.history:
            if medium in ("electricity", "hot_water", "cold_water"):
                self.plans[meter] = replace(self.plans[meter], presence=changes)


def _presence_changes(
    ranges: Sequence[tuple[int, int, float]],
) -> tuple[tuple[int, float], ...]:
    """(slot, factor) from each boundary on: the product of the ranges holding that slot."""
    bounds = sorted({0, *(a for a, _b, _f in ranges), *(b for _a, b, _f in ranges)})
    changes: list[tuple[int, float]] = []
    for bound in bounds:
        factor = 1.0
        for first, last, value in ranges:
            if first <= bound < last:
                factor *= value
        if not changes or changes[-1][1] != factor:
            changes.append((bound, factor))
    return tuple(changes)


def _meter_readings(plan: _MeterPlan, tl: _Timeline) -> Iterator[ReadingRow]:
    # Each meter draws from its own Random, so one meter's rows do not depend on
    # how many rows the meters before it produced.
    rand = random.Random(f"{tl.seed}/{plan.meter}").random  # noqa: S311  # nosec B311: demo data
    schedule = tl.schedules[plan.schedule]
    # After an opening reading at installation, the first regular reading is in the next slot.
    first = plan.first_slot + (1 if plan.opening_at is not None else 0)
    slots = schedule[bisect_left(schedule, first) : bisect_left(schedule, plan.last_slot)]
    cum = tl.cumulative[plan.shape]
    cum2 = tl.cumulative[plan.second_shape] if plan.second_shape else None
    times, meter, unit = tl.times, plan.meter, plan.unit
    base, level, level2, spread = plan.base, plan.level, plan.second_level, plan.spread
    modulus, exponent, offset = plan.modulus, -plan.decimals, plan.offset_s
    skip = plan.skip
    leak_from, leak_rate = plan.leak if plan.leak else (tl.slots + 1, 0.0)
    changes = [*plan.presence, (tl.slots + 1, 1.0)]
    factor, change, next_change = 1.0, 0, changes[0][0]
    register = plan.start_steps
    previous = plan.first_slot

    if plan.opening_at is not None:
        yield ReadingRow(meter, plan.opening_at, Decimal(int(register)).scaleb(exponent), unit)
    for slot in slots:
        if slot in skip:
            continue
        while slot >= next_change:
            factor = changes[change][1]
            change += 1
            next_change = changes[change][0]
        hours = slot - previous
        noise = 1.0 + spread * (2.0 * rand() - 1.0) * _INV_SQRT[min(hours, 199)]
        used = level * (cum[slot] - cum[previous]) * factor * noise + base * hours
        if cum2 is not None:
            used += level2 * (cum2[slot] - cum2[previous]) * noise
        if slot > leak_from:
            used += leak_rate * (slot - max(previous, leak_from))
        register += used
        previous = slot
        # Flooring a rising total keeps the reported register from ever going back.
        yield ReadingRow(
            meter,
            times[slot] + _OFFSETS[offset + int(rand() * _JITTER_S)],
            Decimal(int(register) % modulus).scaleb(exponent),
            unit,
        )
    if plan.closing is not None:
        slot, at = plan.closing
        register += level * (cum[slot] - cum[previous]) * factor + base * (slot - previous)
        yield ReadingRow(meter, at, Decimal(int(register) % modulus).scaleb(exponent), unit)


__all__ = [
    "DemoCase",
    "DemoPortfolio",
    "InstallationRow",
    "ReadingRow",
    "TenancyRow",
    "generate_demo",
]
