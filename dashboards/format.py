"""How numbers and times read on the dashboard: counts, rates, durations, local times.

Pure functions (no Streamlit), so the wording is tested directly. The store keeps UTC;
everything shown is converted to the display zone (SMSRADAR_DISPLAY_TIMEZONE) here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def rate(value: float | None) -> str:
    """A share as a percentage with one decimal: 0.5714 -> '57.1%'."""
    return "–" if value is None else f"{value:.1%}"


def seconds(value: float | None) -> str:
    """A duration in the unit that reads best: '7.0 s', '2.5 min', '1.2 h'."""
    if value is None:
        return "–"
    size = abs(value)
    if size < 60:
        return f"{value:.1f} s"
    if size < 3600:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def count_delta(value: float | None) -> str | None:
    return None if value is None else f"{value:+,.0f}"


def rate_delta(value: float | None) -> str | None:
    """A change of a rate in percentage points: +0.0714 -> '+7.1 pp'."""
    return None if value is None else f"{value * 100:+.1f} pp"


def seconds_delta(value: float | None) -> str | None:
    if value is None:
        return None
    text = seconds(value)
    return text if value < 0 else f"+{text}"


def duration(span: timedelta) -> str:
    """A time range's length in words: '15 minutes', '1 hour', '7 days'."""
    total = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if total >= size and total % size == 0:
            amount = total // size
            return f"{amount} {unit}{'s' if amount != 1 else ''}"
    return f"{total} seconds"


def bucket(size_s: int) -> str:
    """A chart bucket as the unit of a rate: 60 -> 'minute', 300 -> '5 minutes'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if size_s == size:
            return unit
    return duration(timedelta(seconds=size_s))


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    return "–" if value is None else value.astimezone(zone).strftime(TIME_FORMAT)


def local_times(frame: DataFrame, zone: ZoneInfo) -> DataFrame:
    """A copy with every time-zone aware column converted to ``zone`` wall-clock time,
    without the zone: charts and tables then show the time as it reads in that zone (a
    browser would otherwise convert an aware time to its own zone)."""
    import pandas as pd

    frame = frame.copy()
    for name in frame.columns:
        column: Any = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            frame[name] = column.dt.tz_convert(zone).dt.tz_localize(None)
    return frame
