"""Messages: find messages by id or recipient, and follow one message's status events
with the time between them."""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from analytics import queries
from dashboards import codes, format
from dashboards.page import PageContext, live

SEARCH = "messages.search"
IN_RANGE = "messages.in_range"
CHOSEN = "messages.chosen"
LIMIT = 50


def render(page: PageContext) -> None:
    left, right = st.columns([3, 1])
    text = left.text_input(
        "Message id or recipient number", key=SEARCH, placeholder="e.g. 4711 or +3247"
    )
    st.session_state.setdefault(IN_RANGE, True)
    right.toggle("Only in the selected range", key=IN_RANGE, help="Faster on a large store.")
    if not text.strip():
        st.info(
            "Type a message id or part of a recipient's number. Matches on the whole id "
            "come first, then ids and numbers that start with it, newest first."
        )
        return
    found = queries.search_messages(
        page.connection, text, LIMIT, page.filters if st.session_state[IN_RANGE] else None
    )
    if found.empty:
        st.warning(f"No message id or recipient contains “{text.strip()}”.")
        return
    shown = format.local_times(found, page.zone)
    first = f" (the first {LIMIT})" if len(found) == LIMIT else ""
    st.caption(f"{len(found)} message(s){first}; times in {page.zone.key}.")
    st.dataframe(
        shown[
            [
                "provider",
                "message_id",
                "recipient",
                "recipient_country",
                "status",
                "error_category",
                "device_id",
                "sim",
                "created_at",
                "delivery_latency_s",
            ]
        ],
        hide_index=True,
        column_config={
            "provider": "Provider",
            "message_id": "Message id",
            "recipient": "Recipient",
            "recipient_country": "Country",
            "status": "Status",
            "error_category": "Error category",
            "device_id": "Device",
            "sim": "SIM",
            "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm:ss"),
            "delivery_latency_s": st.column_config.NumberColumn(
                "Delivery latency (s)", format="%.1f"
            ),
        },
    )
    # Keyed by provider:message_id, not by position: a refresh that finds a newer
    # message keeps the same message's timeline open.
    rows = {f"{row.provider}:{row.message_id}": row for row in found.itertuples()}
    chosen = st.selectbox(
        "Timeline of",
        list(rows),
        format_func=lambda key: (
            f"{rows[key].provider} · {rows[key].message_id} · "
            f"{rows[key].recipient or '–'} · {rows[key].status}"
        ),
        key=CHOSEN,
    )
    timeline(page, rows[chosen or next(iter(rows))])


def timeline(page: PageContext, message: Any) -> None:
    """``message``: a search_messages row (a pandas named tuple)."""
    events = queries.message_timeline(
        page.connection,
        str(message.provider),
        str(message.message_id),
        created_at=message.created_at.to_pydatetime(),
        last_event_at=message.last_event_at.to_pydatetime(),
    )
    st.subheader(f"Message {message.message_id} ({message.provider})")
    if events.empty:
        st.info("No status events stored for this message (older than the retention?).")
        return
    events = format.local_times(events, page.zone)
    events["meaning"] = [
        codes.meaning(
            str(message.provider),
            str(status),
            None if detail is None or detail != detail else str(detail),
        )
        for status, detail in zip(events["provider_status"], events["error_code"], strict=True)
    ]
    events["gap"] = [
        None if gap != gap or gap is None else format.seconds(gap) for gap in events["gap_s"]
    ]
    st.altair_chart(
        alt.Chart(events, height=120)
        .mark_circle(size=120)
        .encode(
            x=alt.X("event_time:T", title=f"Event time ({page.zone.key})"),
            y=alt.Y("status:N", title=None, sort=None),
            color=alt.Color("status:N", legend=None),
            tooltip=[
                alt.Tooltip("event_time:T", title="Event time", format="%Y-%m-%d %H:%M:%S"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("gap:N", title="After the previous event"),
                alt.Tooltip("meaning:N", title="Meaning"),
            ],
        )
    )
    st.dataframe(
        events[
            [
                "event_time",
                "gap",
                "status",
                "provider_status",
                "meaning",
                "error_category",
                "received_at",
            ]
        ],
        hide_index=True,
        column_config={
            "event_time": st.column_config.DatetimeColumn(
                "Event time", format="YYYY-MM-DD HH:mm:ss"
            ),
            "gap": "After the previous event",
            "status": "Status",
            "provider_status": "Provider code",
            "meaning": "Meaning",
            "error_category": "Error category",
            "received_at": st.column_config.DatetimeColumn(
                "Received", format="YYYY-MM-DD HH:mm:ss"
            ),
        },
    )
    st.caption(
        "Event time is the gateway's own timestamp (the arrival time when it sent none); "
        "events are ordered by it, whatever order the webhooks arrived in."
    )


live("Messages", render)
