"""What every page shares: the settings, a fresh reader per refresh, the filters.

A page is a function of a ``PageContext``; ``live`` runs it inside a Streamlit fragment
that re-runs every few seconds (the sidebar's auto-refresh), each time on a new reader
connection: a reader sees the store's segments as they were when it connected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import streamlit as st

from analytics.queries import Filters
from analytics.reader import connect
from dashboards import filters, format
from smsradar.settings import Settings, SettingsError, load_settings

REFRESH = "refresh.every"
REFRESH_CHOICES_S = (0, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class PageContext:
    settings: Settings
    connection: duckdb.DuckDBPyConnection
    filters: Filters
    zone: ZoneInfo
    bucket_s: int  # chart bucket for the range (filters.bucket_seconds)

    @property
    def bucket(self) -> str:
        """The bucket as a unit: 'minute', '5 minutes', 'hour'."""
        return format.bucket(self.bucket_s)


def settings() -> Settings:
    """The settings, or a plain error on the page (and nothing else) if one is bad."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(str(exc))
        st.stop()


def zone(of: Settings) -> ZoneInfo:
    return ZoneInfo(of.display_timezone)


def refresh_sidebar(of: Settings) -> None:
    """The auto-refresh choice (call inside ``st.sidebar``)."""
    default = of.dashboard_refresh_s
    choices = sorted({*REFRESH_CHOICES_S, default})
    st.session_state.setdefault(REFRESH, default)
    st.selectbox(
        "Auto-refresh",
        choices,
        key=REFRESH,
        format_func=lambda s: "Off" if s == 0 else f"every {format.duration(timedelta(seconds=s))}",
    )


def live(title: str, render: Callable[[PageContext], None], refresh: bool = True) -> None:
    """Draw the page: its title, then ``render`` in a fragment that re-runs on its own
    (``refresh=False``: only when the user acts, and the sidebar's filters do not apply)."""
    st.title(title)
    every = st.session_state.get(REFRESH, 0) if refresh else 0
    st.fragment(_run(render, refresh), run_every=every or None)()


def _run(render: Callable[[PageContext], None], refresh: bool) -> Callable[[], None]:
    def run() -> None:
        current = settings()
        here = zone(current)
        chosen = filters.current(here)
        connection = connect(current)
        try:
            context = PageContext(
                current, connection, chosen, here, filters.bucket_seconds(chosen.duration)
            )
            _updated_line(context, refresh)
            render(context)
        finally:
            connection.close()

    return run


def _updated_line(context: PageContext, refresh: bool) -> None:
    updated = datetime.now(context.zone).strftime("%H:%M:%S")
    every = st.session_state.get(REFRESH, 0)
    refreshing = (
        f"refreshes every {format.duration(timedelta(seconds=every))}"
        if refresh and every
        else "auto-refresh off"
    )
    f = context.filters
    selection = (
        f"{format.local_time(f.start, context.zone)} – {format.local_time(f.end, context.zone)}"
        f" · {filters.describe(f)}"
        if refresh
        else "the sidebar's filters do not apply here"
    )
    st.caption(f"Last updated {updated} ({context.zone.key}) · {refreshing} · {selection}")
