"""The EN 13757-3 application layer: variable data records into :class:`Record` values.

A data record is DIF, up to ten DIFEs, VIF, up to ten VIFEs, then the data
(EN 13757-3 clause 6). The header bytes from DIF to the last VIFE say all
there is to know about a record except its value, and a meter sends the same
layout in every telegram, so the work is done once:

- each header is interpreted once into a :class:`RecordSpec`, kept by its bytes;
- each telegram layout, once walked, is kept as a plan: where every header
  sits and where every data field starts. A telegram of the same length whose
  bytes at those places are those headers is read without walking, one value
  conversion per record. A layout with variable-length data has no fixed
  places: its plan is kept for the same bytes only, which a collector reads
  twice (parsed, then learnt as a compact frame's layout).

Units and quantity names are those of :mod:`openamr.collect.mbus.vif`.

Time points: a record whose value is a date or date-time and whose storage
number is above 0 tells when that storage was taken (a billing date, a
month end). Every other record of the same storage number and subunit (or,
failing that, the same storage number and subunit 0) gets that time point as
its ``at``. Where a storage has both a date and a date-time for the same
day, the date-time wins; where it has two different time points, no record
of that storage gets one. Storage 0 is "now" and gets none.

Compact profiles (VIFE 1Eh, 1Fh): a record that holds a series of values
becomes one record per value, each with its own ``at`` (and, with register
numbers, its own storage number), dated from its storage's time point; see
:mod:`openamr.collect.mbus.profile`. A record that already has an ``at`` keeps
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import itemgetter

from openamr.collect.mbus._cache import BoundedCache
from openamr.collect.mbus.datatypes import (
    DATA_LENGTHS,
    LVAR,
    REST,
    Converter,
    lvar_length,
    make_converter,
    raw_bytes,
)
from openamr.collect.mbus.model import (
    BadFrame,
    Function,
    Record,
    RecordValue,
    UnsupportedTelegram,
)
from openamr.collect.mbus.profile import ProfileSpec, expand_profile
from openamr.collect.mbus.vif import (
    COMBINABLE,
    COMBINABLE_FC,
    EXTENSION_FB,
    EXTENSION_FD,
    ONE,
    PLAIN_TEXT_QUANTITIES,
    PRIMARY,
    Kind,
    UnitChange,
    VifInfo,
    reserved,
)

MAX_DIFES = 10
MAX_VIFES = 10
IDLE_FILLER = 0x2F
_MANUFACTURER_DATA = 0x0F
_MORE_RECORDS_FOLLOW = 0x1F
_GLOBAL_READOUT = 0x7F
_PROFILE_VIFES = {0x1E: True, 0x1F: False}  # compact profile VIFE -> with register numbers

_FUNCTIONS = (Function.INSTANTANEOUS, Function.MAXIMUM, Function.MINIMUM, Function.DURING_ERROR)
_TIME_POINT_QUANTITIES = frozenset({"date", "date_time"})
# Caches are bounded so that random bytes cannot grow them forever.
_MAX_KEPT_SPECS = 65536  # record headers
_MAX_KEPT_LENGTHS = 1024  # telegram lengths with plans
_MAX_PLANS_PER_LENGTH = 8  # layouts of one telegram length
_MAX_VARIABLE_PLANS = 4  # telegrams just parsed whose layout has variable-length data


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """Everything a record header says: the record's fields without its value."""

    header: bytes  # DIF..VIFE as transmitted, Record.raw
    quantity: str
    unit: str | None
    storage: int
    tariff: int
    subunit: int
    function: Function
    description: str
    length: int  # data bytes, or LVAR, or REST
    convert: Converter  # the data field (with its LVAR byte, if any) to value and note
    time_point: bool  # its value says when its storage was taken
    profile: ProfileSpec | None = None  # a compact profile: what its elements are

    def record(self, data: bytes) -> Record:
        """The record with this header and ``data`` as its data field."""
        value, note = self.convert(data)
        description = f"{self.description}; {note}" if note else self.description
        return _new_record(
            self.quantity,
            value,
            self.unit,
            self.storage,
            self.tariff,
            self.subunit,
            self.function,
            None,
            description,
            self.header,
        )


def parse_records(data: bytes) -> tuple[Record, ...]:
    """The records of plaintext application data (what follows the TPL header).

    Idle fillers (2Fh) are skipped. DIF 0Fh or 1Fh ends the records: the rest
    is one ``manufacturer_data`` record whose value is the remaining bytes
    (1Fh: more records follow in the next telegram). Records of a storage
    above 0 get the time point of that storage as ``at``, and a compact
    profile becomes a record per element (see the module docstring).

    Raises BadFrame when a record runs past the end of the data or has more
    than ten DIFEs or VIFEs, or a compact profile is cut short, and
    UnsupportedTelegram for a reserved special DIF (3Fh-6Fh, 7Fh) or reserved
    variable-length code; the reason names the offset of the record in
    ``data``.
    """
    if type(data) is not bytes:
        data = bytes(data)
    plan = _plan_of(data)
    records: list[Record] = []
    append = records.append
    for spec, start, end in plan.steps:  # RecordSpec.record, inlined: the hot loop
        value, note = spec.convert(data[start:end])
        append(
            _new_record(
                spec.quantity,
                value,
                spec.unit,
                spec.storage,
                spec.tariff,
                spec.subunit,
                spec.function,
                None,
                f"{spec.description}; {note}" if note else spec.description,
                spec.header,
            )
        )
    if plan.profiles:
        offsets = [start - len(spec.header) for spec, start, _ in plan.steps]
        return resolve_records(records, plan.specs, offsets=offsets)
    return with_time_points(records) if plan.time_points else tuple(records)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where a telegram's records are: their specs and the offsets of their data fields.

    Telegrams of one layout and length put the same header bytes at the same
    offsets, and those bytes alone decide how :func:`_walk` would go, so a
    plan whose header bytes are all found where it expects them is the walk's
    result without walking. Layouts with variable-length data have no
    ``pick``: their offsets depend on the data.
    """

    steps: tuple[tuple[RecordSpec, int, int], ...]  # spec, data start, data end
    headers: tuple[bytes, ...]  # every header and run of idle fillers, in order
    pick: Callable[[bytes], tuple[bytes, ...]] | None  # those bytes out of a telegram
    time_points: bool
    leading_fillers: int
    profiles: bool  # some record is a compact profile, to be expanded
    specs: tuple[RecordSpec, ...]  # the layout: each step's spec, in order
    dif_vif: bytes  # the layout's record headers, concatenated, as a format signature covers them


def _walk(data: bytes) -> _Plan:
    """Walk the records of ``data`` header by header (EN 13757-3 clause 6)."""
    steps: list[tuple[RecordSpec, int, int]] = []
    slices: list[slice] = []
    fixed = True
    time_points = False
    profiles = False
    leading_fillers = 0
    end = len(data)
    pos = 0
    while pos < end:
        start = pos
        dif = data[pos]
        if dif & 0x0F == 0x0F:
            if dif == IDLE_FILLER:
                while pos < end and data[pos] == IDLE_FILLER:
                    pos += 1
                slices.append(slice(start, pos))
                if not steps:
                    leading_fillers = pos - start
                continue
            steps.append((_special(dif, pos), pos + 1, end))
            slices.append(slice(pos, pos + 1))
            break
        pos = _header_end(data, pos, end)
        header = data[start:pos]
        spec = _SPECS.get(header) or _learn_spec(header)
        length = spec.length
        if length == LVAR:
            length = _lvar_field_length(data, pos, end, start)
            fixed = False
        if pos + length > end:
            raise BadFrame(
                f"record at offset {start}: data field needs {length} bytes, {end - pos} left"
            )
        steps.append((spec, pos, pos + length))
        slices.append(slice(start, pos))
        time_points = time_points or spec.time_point
        profiles = profiles or spec.profile is not None
        pos += length
    pick = _picker(slices) if fixed and slices else None
    headers = tuple(data[part] for part in slices)
    specs = tuple(spec for spec, _, _ in steps)
    dif_vif = b"".join(spec.header for spec in specs)
    return _Plan(
        tuple(steps), headers, pick, time_points, leading_fillers, profiles, specs, dif_vif
    )


def _picker(slices: list[slice]) -> Callable[[bytes], tuple[bytes, ...]]:
    if len(slices) == 1:
        only = slices[0]
        return lambda data: (data[only],)
    return itemgetter(*slices)


def _plan_of(data: bytes) -> _Plan:
    """The plan of ``data``: a kept one that fits it, or the walk's, kept for the next telegram."""
    for plan in _PLANS.get(len(data), ()):
        if plan.pick is not None and plan.pick(data) == plan.headers:
            return plan
    found = _VARIABLE_PLANS.get(data)
    if found is None:
        found = _walk(data)
        _keep_plan(data, found)
    return found


def _keep_plan(data: bytes, plan: _Plan) -> None:
    if plan.pick is None:
        _VARIABLE_PLANS.keep(data, plan)
        return
    if len(_PLANS) >= _MAX_KEPT_LENGTHS:
        _PLANS.clear()
    plans = _PLANS.setdefault(len(data), [])
    if len(plans) >= _MAX_PLANS_PER_LENGTH:
        del plans[0]
    plans.append(plan)


def _record_factory() -> Callable[
    [str, RecordValue, str | None, int, int, int, Function, date | None, str, bytes], Record
]:
    """A constructor for :class:`Record` that sets its slots directly.

    Record is a frozen dataclass with slots: its generated ``__init__`` sets
    each of its ten fields through ``object.__setattr__``, which costs more
    than all the rest of reading a record. Setting the slots through their
    member descriptors makes the same object (equal, same hash, as immutable
    to its users) in a third of the time. Only if Record's fields are exactly
    these ten: a field added to the model later makes this fall back to the
    constructor, and a unit test compares the two.
    """
    names = (
        "quantity",
        "value",
        "unit",
        "storage",
        "tariff",
        "subunit",
        "function",
        "at",
        "description",
        "raw",
    )
    if tuple(item.name for item in fields(Record)) != names or "__slots__" not in vars(Record):
        return Record  # pragma: no cover - the model changed; correct, only slower
    slots = vars(Record)
    set_quantity, set_value, set_unit, set_storage, set_tariff = (
        slots[name].__set__ for name in names[:5]
    )
    set_subunit, set_function, set_at, set_description, set_raw = (
        slots[name].__set__ for name in names[5:]
    )
    new = object.__new__

    def make(
        quantity: str,
        value: RecordValue,
        unit: str | None,
        storage: int,
        tariff: int,
        subunit: int,
        function: Function,
        at: date | None,
        description: str,
        raw: bytes,
    ) -> Record:
        record: Record = new(Record)
        set_quantity(record, quantity)
        set_value(record, value)
        set_unit(record, unit)
        set_storage(record, storage)
        set_tariff(record, tariff)
        set_subunit(record, subunit)
        set_function(record, function)
        set_at(record, at)
        set_description(record, description)
        set_raw(record, raw)
        return record

    return make


_new_record = _record_factory()


def restated(
    record: Record, quantity: str, value: RecordValue, unit: str | None, description: str
) -> Record:
    """``record`` with another quantity, value, unit and description; its place in the meter kept.

    What a manufacturer family makes of a record the standard layer kept raw:
    ``dataclasses.replace`` with these four fields, built as fast as a parsed record.
    """
    return _new_record(
        quantity,
        value,
        unit,
        record.storage,
        record.tariff,
        record.subunit,
        record.function,
        record.at,
        description,
        record.raw,
    )


def split_layout(data: bytes, *, with_data: bool) -> tuple[tuple[RecordSpec, ...], int]:
    """The record specs of a telegram's layout, and how many idle fillers lead it.

    With ``with_data`` the bytes are a full telegram's application data, as
    for :func:`parse_records`; without, they are only the concatenated
    DIF..VIFE bytes of its records, as a compact frame's known layout gives
    them. Raises as :func:`parse_records` does.
    """
    if with_data:
        plan = _plan_of(data)
        return plan.specs, plan.leading_fillers
    specs: list[RecordSpec] = []
    leading_fillers = 0
    end = len(data)
    pos = 0
    while pos < end:
        dif = data[pos]
        if dif & 0x0F == 0x0F:
            if dif == IDLE_FILLER:
                leading_fillers += not specs
                pos += 1
                continue
            specs.append(_special(dif, pos))
            break
        start = pos
        pos = _header_end(data, pos, end)
        header = data[start:pos]
        specs.append(_SPECS.get(header) or _learn_spec(header))
    return tuple(specs), leading_fillers


def full_frame_layout(data: bytes) -> tuple[tuple[RecordSpec, ...], int, bytes]:
    """A full frame's layout: its record specs, leading idle fillers and DIF..VIFE bytes.

    As :func:`split_layout` with data, and the record headers concatenated,
    as a format signature covers them; all kept with the layout's plan.
    Raises as :func:`parse_records` does.
    """
    if type(data) is not bytes:
        data = bytes(data)
    plan = _plan_of(data)
    return plan.specs, plan.leading_fillers, plan.dif_vif


def _lvar_field_length(data: bytes, pos: int, end: int, start: int) -> int:
    """The length of a variable-length data field at ``pos``, its LVAR byte included."""
    if pos >= end:
        raise BadFrame(f"record at offset {start}: the variable-length byte is missing")
    length = lvar_length(data[pos])
    if length < 0:
        raise UnsupportedTelegram(
            f"record at offset {start}: reserved variable-length code 0x{data[pos]:02X}"
        )
    return length + 1


def _header_end(data: bytes, pos: int, end: int) -> int:
    """Where the header starting at ``pos`` ends; raises BadFrame if it is cut or too long."""
    start = pos
    count = 0
    byte = data[pos]
    pos += 1
    while byte & 0x80:
        if pos >= end:
            raise BadFrame(f"record at offset {start}: the data ends inside its DIFEs")
        count += 1
        if count > MAX_DIFES:
            raise BadFrame(f"record at offset {start}: more than {MAX_DIFES} DIFEs")
        byte = data[pos]
        pos += 1
    if pos >= end:
        raise BadFrame(f"record at offset {start}: the data ends before its VIF")
    byte = data[pos]
    pos += 1
    if byte & 0x7F == 0x7C:  # plain-text VIF: a length byte and the unit's text follow
        if pos >= end or pos + 1 + data[pos] > end:
            raise BadFrame(f"record at offset {start}: the data ends inside its plain-text VIF")
        pos += 1 + data[pos]
    count = 0
    while byte & 0x80:
        if pos >= end:
            raise BadFrame(f"record at offset {start}: the data ends inside its VIFEs")
        count += 1
        if count > MAX_VIFES:
            raise BadFrame(f"record at offset {start}: more than {MAX_VIFES} VIFEs")
        byte = data[pos]
        pos += 1
    return pos


def _special(dif: int, offset: int) -> RecordSpec:
    spec = _SPECIAL.get(dif)
    if spec is not None:
        return spec
    if dif == _GLOBAL_READOUT:
        reason = "a global readout request (DIF 7Fh) is not meter data"
    else:
        reason = f"reserved special function DIF 0x{dif:02X}"
    raise UnsupportedTelegram(f"record at offset {offset}: {reason}")


def _learn_spec(header: bytes) -> RecordSpec:
    spec = _build_spec(header)
    if len(_SPECS) >= _MAX_KEPT_SPECS:
        _SPECS.clear()
    _SPECS[header] = spec
    return spec


def _build_spec(header: bytes) -> RecordSpec:
    """Interpret a complete header (as delimited by :func:`_header_end`).

    DIF (data field, function field, storage number LSB) and DIFEs (storage,
    tariff, subunit bits, least significant DIFE first), then the VIF through
    the tables of :mod:`openamr.collect.mbus.vif` and each combinable VIFE.
    """
    dif = header[0]
    storage = (dif >> 6) & 1
    tariff = subunit = 0
    pos = 1
    byte = dif
    for index in range(MAX_DIFES):
        if not byte & 0x80:
            break
        byte = header[pos]
        pos += 1
        storage |= (byte & 0x0F) << (1 + 4 * index)
        tariff |= ((byte >> 4) & 0x03) << (2 * index)
        subunit |= ((byte >> 6) & 0x01) << index
    info, vifes, manufacturer_vifes = _value_information(header, pos)
    quantity, unit, scale, kind = info.quantity, info.unit, info.scale, info.kind
    # A compact profile's elements are what the record would be without its profile VIFE.
    element_quantity, element_kind = quantity, kind
    with_registers: bool | None = None
    descriptions = [info.description]
    extension_next = False
    for position, vife in enumerate(vifes):
        if position >= manufacturer_vifes >= 0:
            break
        code = vife & 0x7F
        if extension_next:
            extension_next = False
            effect = COMBINABLE_FC.get(code)
            if effect is None:
                descriptions.append(f"combinable extension VIFE 0x{code:02X}")
                continue
        elif code == 0x7C:
            extension_next = True
            continue
        elif code == 0x7F:
            continue
        else:
            effect = COMBINABLE.get(code)
            if effect is None:
                descriptions.append(f"unknown VIFE 0x{code:02X}")
                continue
            if code in _PROFILE_VIFES and with_registers is None:
                with_registers = _PROFILE_VIFES[code]
                descriptions.append(effect.description)
                quantity += effect.suffix
                continue
        descriptions.append(effect.description)
        quantity += effect.suffix
        element_quantity += effect.suffix
        if effect.scale is not None:
            scale = scale * effect.scale
        if effect.kind is not None:
            kind = element_kind = effect.kind
        if effect.unit_change is UnitChange.NONE:
            unit = None
        elif effect.unit_change is UnitChange.SET:
            unit = effect.unit  # a duration: the VIF's scale belonged to the VIF's unit
            scale = ONE
        elif effect.unit_change is UnitChange.PER:
            unit = f"{unit or 1}/{effect.unit}"
    if manufacturer_vifes >= 0:
        extra = vifes[manufacturer_vifes:].hex(" ").upper()
        descriptions.append(f"manufacturer-specific VIFEs {extra}" if extra else "")
    function = _FUNCTIONS[(dif >> 4) & 0x03]
    data_code = dif & 0x0F
    profile = None
    if with_registers is not None:
        profile = ProfileSpec(element_quantity, unit, element_kind, scale, with_registers)
        kind = Kind.RAW  # the record's value is the profile's bytes, read by expand_profile
    return RecordSpec(
        header=header,
        quantity=quantity,
        unit=unit,
        storage=storage,
        tariff=tariff,
        subunit=subunit,
        function=function,
        description="; ".join(part for part in descriptions if part),
        length=DATA_LENGTHS[data_code],
        convert=make_converter(kind, data_code, scale),
        time_point=(
            quantity in _TIME_POINT_QUANTITIES
            and storage > 0
            and function is Function.INSTANTANEOUS
        ),
        profile=profile,
    )


def _value_information(header: bytes, pos: int) -> tuple[VifInfo, bytes, int]:
    """The VIF's table entry, the combinable VIFEs after it, and where manufacturer VIFEs start.

    The third item is the index into the VIFEs from which on they are
    manufacturer-specific (after VIF 7Fh/FFh from the first, after VIFE
    7Fh/FFh from the next), or -1.
    """
    vif = header[pos]
    code = vif & 0x7F
    rest = header[pos + 1 :]
    if code == 0x7C:
        length = rest[0]
        text = rest[1 : 1 + length][::-1].decode("latin-1")
        quantity = PLAIN_TEXT_QUANTITIES.get(text, "plain_text_unit")
        info = VifInfo(quantity, text, ONE, Kind.NUMBER, f"plain-text unit {text!r}")
        rest = rest[1 + length :]
    elif code == 0x7F:
        info = VifInfo("manufacturer_specific", None, ONE, Kind.RAW, "manufacturer-specific VIF")
        return info, rest, 0
    elif code in (0x7B, 0x7D) and vif & 0x80:
        table, name = (EXTENSION_FB, "FB") if code == 0x7B else (EXTENSION_FD, "FD")
        entry = rest[0] & 0x7F
        info = table.get(entry) or reserved(name, entry)
        rest = rest[1:]
    else:
        info = PRIMARY.get(code) or reserved("VIF", vif)
    manufacturer = next((index + 1 for index, vife in enumerate(rest) if vife & 0x7F == 0x7F), -1)
    return info, rest, manufacturer


def _manufacturer_data(dif: int, description: str) -> RecordSpec:
    return RecordSpec(
        header=bytes([dif]),
        quantity="manufacturer_data",
        unit=None,
        storage=0,
        tariff=0,
        subunit=0,
        function=Function.INSTANTANEOUS,
        description=description,
        length=REST,
        convert=raw_bytes,
        time_point=False,
    )


def with_time_points(records: Iterable[Record]) -> tuple[Record, ...]:
    """The records with ``at`` filled from their storage's time point (see the module docstring)."""
    records = tuple(records)
    return _filled(records, _storage_time_points(records))


def resolve_records(
    records: Sequence[Record],
    specs: Sequence[RecordSpec],
    *,
    offsets: Sequence[int] | None = None,
) -> tuple[Record, ...]:
    """The records with their time points, and each compact profile as one record per element.

    ``specs`` are the records' own specs and ``offsets`` where their headers
    start in the application data, if known, both in the records' order.
    Raises BadFrame when a compact profile is cut short, naming its offset (see
    :func:`openamr.collect.mbus.profile.expand_profile`).
    """
    points = _storage_time_points(records)
    expanded: list[Record] = []
    for index, (record, spec) in enumerate(zip(records, specs, strict=True)):
        if spec.profile is None:
            expanded.append(record)
            continue
        base = _point_of(points, record.storage, record.subunit) if record.storage > 0 else None
        place = f"record at offset {offsets[index]}" if offsets is not None else ""
        expanded.extend(expand_profile(record, spec.profile, base, place=place))
    return _filled(expanded, points)


def _storage_time_points(records: Sequence[Record]) -> dict[tuple[int, int], date]:
    """The time point of each (storage, subunit) whose date records agree on one."""
    points: dict[tuple[int, int], date] = {}
    ambiguous: set[tuple[int, int]] = set()
    for record in records:
        value = record.value
        if (
            record.storage > 0
            and record.quantity in _TIME_POINT_QUANTITIES
            and record.function is Function.INSTANTANEOUS
            and isinstance(value, date)
        ):
            key = (record.storage, record.subunit)
            known = points.get(key)
            if known is None or known == value:
                points[key] = value
            elif type(known) is not type(value) and _day(known) == _day(value):
                points[key] = value if isinstance(value, datetime) else known
            else:
                ambiguous.add(key)
    for key in ambiguous:
        points.pop(key, None)
    return points


def _point_of(points: dict[tuple[int, int], date], storage: int, subunit: int) -> date | None:
    at = points.get((storage, subunit))
    if at is None and subunit:
        at = points.get((storage, 0))
    return at


def _filled(records: Sequence[Record], points: dict[tuple[int, int], date]) -> tuple[Record, ...]:
    """``records`` with ``at`` set from ``points`` where a record has none of its own."""
    if not points:
        return tuple(records)
    filled: list[Record] = []
    for record in records:
        at = None
        if (
            record.at is None
            and record.storage > 0
            and record.quantity not in _TIME_POINT_QUANTITIES
        ):
            at = _point_of(points, record.storage, record.subunit)
        if at is None:
            filled.append(record)
            continue
        filled.append(
            _new_record(
                record.quantity,
                record.value,
                record.unit,
                record.storage,
                record.tariff,
                record.subunit,
                record.function,
                at,
                record.description,
                record.raw,
            )
        )
    return tuple(filled)


def _day(point: date) -> date:
    return point.date() if isinstance(point, datetime) else point


_SPECS: dict[bytes, RecordSpec] = {}
_PLANS: dict[int, list[_Plan]] = {}
# Plans of layouts with variable-length data, which fit only their own telegram,
# by its application data: a full frame is parsed, then at once learnt from the
# same bytes (a few, for decoders running in threads).
_VARIABLE_PLANS: BoundedCache[bytes, _Plan] = BoundedCache(_MAX_VARIABLE_PLANS)
_SPECIAL = {
    _MANUFACTURER_DATA: _manufacturer_data(_MANUFACTURER_DATA, "manufacturer-specific data"),
    _MORE_RECORDS_FOLLOW: _manufacturer_data(
        _MORE_RECORDS_FOLLOW,
        "manufacturer-specific data; more records follow in the next telegram",
    ),
}
