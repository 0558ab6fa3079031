"""Register readings to interval values, with a status on every value."""

from openamr.validate.calendar import (
    PeriodValue,
    Resolution,
    aggregate,
    aggregate_rows,
    local_periods,
    local_span,
)
from openamr.validate.rules import (
    ESTIMATION_GAP,
    REGISTER_WENT_BACKWARDS,
    HourlyValue,
    HourRow,
    MeterSpan,
    RegisterReading,
    Status,
    UnableToDeriveValues,
    derive_hour_rows,
    derive_hour_rows_by_second,
    derive_hourly_values,
)

__all__ = [
    "ESTIMATION_GAP",
    "REGISTER_WENT_BACKWARDS",
    "HourRow",
    "HourlyValue",
    "MeterSpan",
    "PeriodValue",
    "RegisterReading",
    "Resolution",
    "Status",
    "UnableToDeriveValues",
    "aggregate",
    "aggregate_rows",
    "derive_hour_rows",
    "derive_hour_rows_by_second",
    "derive_hourly_values",
    "local_periods",
    "local_span",
]
