"""Inbound: incoming SMS over time, and replies linked to the message they answer."""

from __future__ import annotations

import streamlit as st

from analytics import queries
from dashboards import charts, empty, format
from dashboards.page import PageContext, live


def render(page: PageContext) -> None:
    f, zone = page.filters, page.zone
    volume = queries.inbound_over_time(page.connection, f, page.bucket_s)
    replies = queries.replies(page.connection, f)
    received, answering = int(volume["messages"].sum()), int(volume["replies"].sum())
    columns = st.columns(3)
    columns[0].metric("Incoming messages", format.count(received))
    columns[1].metric(
        "Replies", format.count(answering), help="Incoming messages that answer one we sent."
    )
    columns[2].metric(
        "Replies matched",
        format.count(len(replies)),
        help="Replies whose message is in the store (sent at most a day before the range).",
    )
    if received == 0:
        empty.nothing_selected(page.connection, page.settings, "incoming messages")
        return
    volume = format.local_times(volume, zone)
    volume["other"] = volume["messages"] - volume["replies"]
    st.subheader("Incoming volume")
    st.altair_chart(
        charts.bars_over_time(
            volume,
            "messages",
            y_title=f"Incoming messages per {page.bucket}",
            zone=zone,
            start=f.start,
            end=f.end,
            bucket_s=page.bucket_s,
            stack={"replies": "Replies", "other": "Other incoming"},
        )
    )
    if f.country is not None:
        st.caption(
            "The country filter applies to replies' messages only: an incoming SMS has no "
            "destination country of its own."
        )
    st.subheader("Replies and the messages they answer")
    if replies.empty:
        st.info(
            "No reply in the range matched a stored message. Replies are linked by "
            "Smstools' `isreply` / `orig_messageid`."
        )
        return
    shown = format.local_times(replies, zone)
    st.dataframe(
        shown[
            [
                "received_at",
                "provider",
                "sender",
                "reply_to_message_id",
                "recipient_country",
                "reply_to_status",
                "reply_to_created_at",
                "reply_after_s",
                "message_id",
            ]
        ],
        hide_index=True,
        column_config={
            "received_at": st.column_config.DatetimeColumn(
                "Received", format="YYYY-MM-DD HH:mm:ss"
            ),
            "provider": "Provider",
            "sender": "From",
            "reply_to_message_id": "Answers message",
            "recipient_country": "Country",
            "reply_to_status": "Its status",
            "reply_to_created_at": st.column_config.DatetimeColumn(
                "It was sent", format="YYYY-MM-DD HH:mm:ss"
            ),
            "reply_after_s": st.column_config.NumberColumn(
                "Reply after (s)", format="%.0f", help="From delivery (else sending) of our message"
            ),
            "message_id": "Incoming id",
        },
    )


live("Inbound", render)
