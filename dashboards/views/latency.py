"""Latency: percentiles over time, their distribution, by provider, device, SIM and
country, and queue vs delivery vs total latency."""

from __future__ import annotations

import streamlit as st

from analytics import queries
from dashboards import charts, empty, format
from dashboards.page import PageContext, live

KINDS = {
    "delivery": "Delivery (sent → delivered)",
    "queue": "Queue (created → sent)",
    "total": "Total (created → delivered)",
}
DIMENSIONS = {
    "provider": "Provider",
    "device_id": "Device",
    "sim": "SIM (device/slot)",
    "recipient_country": "Destination country",
}
PERCENTILES = ("p50", "p95", "p99")


def render(page: PageContext) -> None:
    f, zone = page.filters, page.zone
    over_time = queries.latency_over_time(page.connection, f, page.bucket_s)
    if over_time.empty:
        empty.nothing_selected(page.connection, page.settings)
        return
    over_time = format.local_times(over_time, zone)

    st.subheader("Percentiles over time")
    kind = st.segmented_control(
        "Latency",
        list(KINDS),
        format_func=lambda k: KINDS[k],
        default="delivery",
        key="latency.kind",
    )
    kind = kind or "delivery"
    st.altair_chart(
        charts.lines_over_time(
            over_time,
            {f"{kind}_{p}_s": p for p in PERCENTILES},
            y_title=f"{kind.capitalize()} latency (s, log scale)",
            zone=zone,
            start=f.start,
            end=f.end,
            log=True,
        )
    )
    st.caption(f"Messages by creation time, per {page.bucket}.")

    st.subheader("Queue vs delivery vs total")
    percentile = st.segmented_control(
        "Percentile", PERCENTILES, default="p50", key="latency.percentile"
    )
    percentile = percentile or "p50"
    st.altair_chart(
        charts.lines_over_time(
            over_time,
            {f"{k}_{percentile}_s": KINDS[k] for k in ("queue", "delivery", "total")},
            y_title=f"{percentile} latency (s, log scale)",
            zone=zone,
            start=f.start,
            end=f.end,
            log=True,
        )
    )

    distribution(page)
    by_dimension(page)


def distribution(page: PageContext) -> None:
    st.subheader("Distribution of delivery latency")
    p95 = queries.kpis(page.connection, page.filters).current.delivery_p95_s
    # Fold the long tail into the last bin, or a few slow messages squash the histogram.
    upper = p95 if p95 and p95 > 0 else None
    bins = queries.latency_distribution(page.connection, page.filters, bins=30, upper_s=upper)
    if bins.empty:
        st.info("No delivered messages in the selection yet.")
        return
    st.altair_chart(charts.histogram(bins, x_title="Delivery latency (s)"))
    if upper is not None:
        st.caption(
            f"The last bar also counts the 5% of messages slower than p95 "
            f"({format.seconds(upper)})."
        )


def by_dimension(page: PageContext) -> None:
    st.subheader("Delivery latency by …")
    dimension = st.segmented_control(
        "Group by",
        list(DIMENSIONS),
        format_func=lambda d: DIMENSIONS[d],
        default="provider",
        key="latency.dimension",
    )
    dimension = dimension or "provider"
    frame = queries.latency_by(page.connection, page.filters, dimension)
    frame["value"] = frame["value"].fillna("(none)")
    decided = frame[frame["delivered"] > 0]
    if not decided.empty:
        long = decided.melt(
            id_vars=["value", "messages"],
            value_vars=[f"delivery_{p}_s" for p in PERCENTILES],
            var_name="percentile",
            value_name="seconds",
        )
        long["percentile"] = long["percentile"].str.slice(9, 12)
        st.altair_chart(
            charts.grouped_percentiles(long.head(60), value_title="Delivery latency (s)")
        )
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "value": DIMENSIONS[dimension],
            "messages": st.column_config.NumberColumn("Messages", format="%d"),
            "delivered": st.column_config.NumberColumn("Delivered", format="%d"),
            "delivery_mean_s": st.column_config.NumberColumn("Mean (s)", format="%.1f"),
            "delivery_p50_s": st.column_config.NumberColumn("p50 (s)", format="%.1f"),
            "delivery_p95_s": st.column_config.NumberColumn("p95 (s)", format="%.1f"),
            "delivery_p99_s": st.column_config.NumberColumn("p99 (s)", format="%.1f"),
        },
    )
    st.caption(
        "Worst p95 first. Messages without a device (Smstools) are left out of the device "
        "and SIM views."
    )


live("Latency", render)
