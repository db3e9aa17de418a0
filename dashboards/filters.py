"""The sidebar's filters: time range, provider, device, country.

Widgets keep their values in ``st.session_state`` under the keys below. The sidebar is
drawn by the app on every page, so a choice carries across pages. ``current`` turns the
choice into ``analytics.queries.Filters`` at the moment it is called: a relative range
("Last hour") moves forward at every auto-refresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import streamlit as st

from analytics import queries
from analytics.queries import Filters
from smsradar.providers import ADAPTERS

RANGE = "filter.range"
CUSTOM_START = "filter.start"
CUSTOM_END = "filter.end"
PROVIDER = "filter.provider"
DEVICE = "filter.device"
COUNTRY = "filter.country"

CUSTOM = "Custom range"
PRESETS: dict[str, timedelta] = {
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 6 hours": timedelta(hours=6),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
}
DEFAULT_PRESET = "Last hour"
# Chart buckets: the smallest that gives at most MAX_BUCKETS points over the range. All
# are multiples of the stream's 60 s failure-rate window.
BUCKETS_S = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400)
MAX_BUCKETS = 120


def sidebar(connection: duckdb.DuckDBPyConnection, zone: ZoneInfo) -> None:
    """Draw the filter widgets (call inside ``st.sidebar``)."""
    st.header("Filters")
    st.session_state.setdefault(RANGE, DEFAULT_PRESET)
    st.selectbox("Time range", [*PRESETS, CUSTOM], key=RANGE)
    if st.session_state[RANGE] == CUSTOM:
        now = datetime.now(zone).replace(second=0, microsecond=0, tzinfo=None)
        st.session_state.setdefault(CUSTOM_START, now - timedelta(hours=1))
        st.session_state.setdefault(CUSTOM_END, now)
        st.datetime_input("From", key=CUSTOM_START, format="YYYY-MM-DD", step=60)
        st.datetime_input("To", key=CUSTOM_END, format="YYYY-MM-DD", step=60)
        st.caption(f"Times in {zone.key}.")
    filters = current(zone, dimensions=False)
    # Offer what the store has in this and the previous period, and always the current
    # choice (so it does not vanish when the range moves past its last message).
    found = queries.dimension_values(connection, filters.previous().start, filters.end)
    _choice("Provider", PROVIDER, [*ADAPTERS, *found.providers], "All providers")
    _choice("Device", DEVICE, found.devices, "All devices")
    _choice("Destination country", COUNTRY, found.countries, "All countries")


def _choice(label: str, key: str, values: list[str], everything: str) -> None:
    selected = st.session_state.get(key)
    options: list[str | None] = [None, *sorted({*values, *([selected] if selected else [])})]
    st.selectbox(label, options, key=key, format_func=lambda v: everything if v is None else v)


def current(zone: ZoneInfo, now: datetime | None = None, dimensions: bool = True) -> Filters:
    """The Filters the sidebar selects now."""
    state = st.session_state
    choice = state.get(RANGE, DEFAULT_PRESET)
    if choice == CUSTOM and state.get(CUSTOM_START) and state.get(CUSTOM_END):
        start = _aware(state[CUSTOM_START], zone)
        end = _aware(state[CUSTOM_END], zone)
        if end <= start:
            end = start + timedelta(minutes=1)
    else:
        end = now or datetime.now(zone)
        start = end - PRESETS.get(choice, PRESETS[DEFAULT_PRESET])
    if not dimensions:
        return Filters(start, end)
    return Filters(
        start,
        end,
        provider=state.get(PROVIDER),
        device_id=state.get(DEVICE),
        country=state.get(COUNTRY),
    )


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    """A datetime_input value (wall-clock time in the display zone) made aware."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def bucket_seconds(span: timedelta) -> int:
    for size in BUCKETS_S:
        if span.total_seconds() / size <= MAX_BUCKETS:
            return size
    return BUCKETS_S[-1]


def describe(filters: Filters) -> str:
    """The dimension filters in words, for captions: 'provider smstools, device 12'."""
    parts = [
        f"{name} {value}"
        for name, value in (
            ("provider", filters.provider),
            ("device", filters.device_id),
            ("country", filters.country),
        )
        if value is not None
    ]
    return ", ".join(parts) if parts else "all traffic"
