"""Alerts: firing and resolved alerts with their numbers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from analytics import queries
from dashboards import format
from dashboards.page import PageContext, live

STATE = "alerts.state"
STATES = {"all": "All", "firing": "Firing", "resolved": "Resolved"}
COLUMNS: dict[str, Any] = {
    "state": "State",
    "rule": "Rule",
    "dimension": "Dimension",
    "dimension_value": "Value",
    "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
    "fired_at": st.column_config.DatetimeColumn("Fired", format="YYYY-MM-DD HH:mm:ss"),
    "resolved_at": st.column_config.DatetimeColumn("Resolved", format="YYYY-MM-DD HH:mm:ss"),
    "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
    "peak_failure_rate": st.column_config.NumberColumn("Peak rate", format="percent"),
    "baseline_rate": st.column_config.NumberColumn("Baseline", format="percent"),
    "total": st.column_config.NumberColumn("Messages decided", format="%d"),
    "message": st.column_config.TextColumn("Message", width="large"),
}
NO_ALERTS = """\
**No alerts recorded.** The stream worker's alert rules raise one when a failure rate \
(overall, or of one provider, device, SIM, country or error category) rises well above \
its baseline, and resolve it when the rate is back to normal.

To see one, run the simulator with a failure spike while `smsradar up` runs, e.g. \
`smsradar simulate --url {receiver} --spike device=1003,rate=0.6,from=60,to=240`.
"""


def render(page: PageContext) -> None:
    everything = queries.alerts(page.connection, "all")
    states = everything["state"].value_counts()
    columns = st.columns(3)
    columns[0].metric("Firing now", format.count(int(states.get("firing", 0))))
    columns[1].metric("Resolved", format.count(int(states.get("resolved", 0))))
    columns[2].metric("All alerts", format.count(len(everything)))
    if everything.empty:
        from dashboards.empty import receiver_url

        st.info(NO_ALERTS.format(receiver=receiver_url(page.settings)))
        return
    st.session_state.setdefault(STATE, "all")
    state = st.segmented_control("Show", list(STATES), format_func=lambda s: STATES[s], key=STATE)
    chosen = everything if state in (None, "all") else everything[everything["state"] == state]
    shown = format.local_times(chosen, page.zone)
    st.dataframe(
        shown[[name for name in COLUMNS if name in shown.columns]],
        hide_index=True,
        column_config={k: v for k, v in COLUMNS.items() if k in shown.columns},
    )
    st.caption(
        f"Newest first; times in {page.zone.key}. Alerts do not depend on the sidebar's filters."
    )


live("Alerts", render)
