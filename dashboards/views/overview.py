"""Overview: the selected range's counts, delivery rate and latency against the previous
period, small trends, and firing alerts on top."""

from __future__ import annotations

import streamlit as st

from analytics import queries
from dashboards import charts, empty, format
from dashboards.page import PageContext, live

ALERTS_SHOWN = 3


def render(page: PageContext) -> None:
    firing_alerts(page)
    comparison = queries.kpis(page.connection, page.filters)
    if comparison.current.sent == 0:
        empty.nothing_selected(page.connection, page.settings)
    kpis(comparison, page)
    trends(page)


def firing_alerts(page: PageContext) -> None:
    firing = queries.alerts(page.connection, "firing")
    for row in firing.head(ALERTS_SHOWN).itertuples():
        since = format.local_time(row.started_at.to_pydatetime(), page.zone)
        st.error(f"**Alert firing** since {since}: {row.message}", icon=":material/warning:")
    if len(firing) > ALERTS_SHOWN:
        st.page_link(
            "views/alerts.py",
            label=f"{len(firing) - ALERTS_SHOWN} more firing alerts",
            icon=":material/notifications:",
        )


def kpis(comparison: queries.KpiComparison, page: PageContext) -> None:
    now = comparison.current
    counts = st.columns(4)
    counts[0].metric(
        "Messages sent",
        format.count(now.sent),
        format.count_delta(comparison.delta("sent")),
        delta_color="off",
        help="Outbound messages created in the range, whatever their state.",
    )
    counts[1].metric(
        "Delivered", format.count(now.delivered), format.count_delta(comparison.delta("delivered"))
    )
    counts[2].metric(
        "Failed",
        format.count(now.failed),
        format.count_delta(comparison.delta("failed")),
        delta_color="inverse",
        help="Undelivered, rejected or failed. Unknown outcomes are counted apart.",
    )
    counts[3].metric(
        "In flight",
        format.count(now.in_flight),
        format.count_delta(comparison.delta("in_flight")),
        delta_color="off",
        help="Not yet delivered or failed.",
    )
    quality = st.columns(4)
    quality[0].metric(
        "Delivery rate",
        format.rate(now.delivery_rate),
        format.rate_delta(comparison.delta("delivery_rate")),
        help="delivered / (delivered + failed)",
    )
    for column, name, label in (
        (quality[1], "delivery_p50_s", "Delivery latency p50"),
        (quality[2], "delivery_p95_s", "Delivery latency p95"),
        (quality[3], "delivery_p99_s", "Delivery latency p99"),
    ):
        column.metric(
            label,
            format.seconds(getattr(now, name)),
            format.seconds_delta(comparison.delta(name)),
            delta_color="inverse",
            help="From sent to delivered, over the messages delivered.",
        )
    previous = page.filters.previous()
    st.caption(
        f"Changes against the previous {format.duration(page.filters.duration)} "
        f"({format.local_time(previous.start, page.zone)} – "
        f"{format.local_time(previous.end, page.zone)}). "
        f"Unknown outcomes (no report available): {format.count(now.unknown)}."
    )


def trends(page: PageContext) -> None:
    f, zone = page.filters, page.zone
    volume = format.local_times(queries.latency_over_time(page.connection, f, page.bucket_s), zone)
    rates = format.local_times(
        queries.failure_rate_over_time(page.connection, f, page.bucket_s), zone
    )
    left, middle, right = st.columns(3)
    with left:
        st.subheader("Messages sent")
        volume["not_delivered"] = volume["messages"] - volume["delivered"]
        st.altair_chart(
            charts.bars_over_time(
                volume,
                "messages",
                y_title=f"Messages per {page.bucket}",
                zone=zone,
                start=f.start,
                end=f.end,
                bucket_s=page.bucket_s,
                stack={"delivered": "Delivered", "not_delivered": "Not delivered (yet)"},
                height=charts.SMALL,
            ),
        )
    with middle:
        st.subheader("Failure rate")
        st.altair_chart(
            charts.failure_rate(
                rates, zone=zone, start=f.start, end=f.end, height=charts.SMALL, y_extent=None
            ),
        )
    with right:
        st.subheader("Delivery latency")
        st.altair_chart(
            charts.lines_over_time(
                volume,
                {"delivery_p50_s": "p50", "delivery_p95_s": "p95"},
                y_title="Latency (s, log scale)",
                zone=zone,
                start=f.start,
                end=f.end,
                log=True,
                height=charts.SMALL,
            ),
        )


live("Overview", render)
