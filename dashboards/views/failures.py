"""Failures: failure rate over time with alert periods marked, breakdown by error
category and raw provider code (with its documented meaning), top failing devices, SIMs
and countries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import streamlit as st

from analytics import queries
from dashboards import charts, codes, empty, format
from dashboards.page import PageContext, live

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped]

SERIES = {
    "overall": "all traffic",
    "provider": "provider",
    "device": "device",
    "country": "destination country",
}
# dimension -> (heading, column title)
TOP = {
    "device_id": ("Devices", "Device"),
    "sim": ("SIMs", "SIM"),
    "recipient_country": ("Countries", "Country"),
}
MIN_DECIDED = "failures.min_decided"


def render(page: PageContext) -> None:
    f = page.filters
    now = queries.kpis(page.connection, f).current
    columns = st.columns(4)
    columns[0].metric(
        "Failure rate", format.rate(now.failure_rate), help="failed / (delivered + failed)"
    )
    columns[1].metric("Failed", format.count(now.failed))
    columns[2].metric("Delivered", format.count(now.delivered))
    columns[3].metric(
        "Unknown outcome",
        format.count(now.unknown),
        help="No delivery report available: not counted as failed.",
    )
    if now.sent == 0:
        empty.nothing_selected(page.connection, page.settings)
        return
    rate_over_time(page)
    categories_and_codes(page)
    top_failing(page)


def rate_over_time(page: PageContext) -> None:
    f, zone = page.filters, page.zone
    st.subheader("Failure rate over time")
    rates = format.local_times(
        queries.failure_rate_over_time(page.connection, f, page.bucket_s), zone
    )
    dimension, value = queries.failure_rate_dimension(f)
    periods = alert_periods(queries.alerts(page.connection, "all"), page)
    # Shade the alerts of the series drawn; every alert in the range gets a lane below.
    own = periods[(periods["dimension"] == dimension) & (periods["dimension_value"] == value)]
    st.altair_chart(charts.failure_rate(rates, own, zone=zone, start=f.start, end=f.end))
    if not periods.empty:
        st.altair_chart(charts.alert_lanes(periods, zone=zone, start=f.start, end=f.end))
    series = SERIES.get(dimension, dimension) + ("" if dimension == "overall" else f" {value}")
    marked = (
        f" Below: the {len(periods)} alert period(s) in the range, one lane per alerted "
        f"value, red while firing, orange once resolved (shaded above when it is {series})."
        if not periods.empty
        else " No alert was firing in the range."
    )
    st.caption(
        f"Outcomes by the time they happened, per {page.bucket}, for {series} (windows are "
        f"kept per single dimension: the most specific filter applies).{marked}"
    )


def alert_periods(alerts: DataFrame, page: PageContext) -> DataFrame:
    """Firing and resolved alerts overlapping the range, clipped to it, with a lane label."""
    import pandas as pd

    begin, finish = pd.Timestamp(page.filters.start), pd.Timestamp(page.filters.end)
    frame = alerts[alerts["state"].isin(["firing", "resolved"])].copy()
    resolved = frame["resolved_at"].fillna(finish)
    frame = frame[(frame["started_at"] < finish) & (resolved > begin)]
    frame["period_start"] = frame["started_at"].clip(lower=begin)
    frame["period_end"] = resolved[frame.index].clip(upper=finish)
    frame["label"] = [
        "overall" if d == "overall" else f"{d} {v}"
        for d, v in zip(frame["dimension"], frame["dimension_value"], strict=True)
    ]
    return format.local_times(frame, page.zone)


def categories_and_codes(page: PageContext) -> None:
    st.subheader("By error category")
    categories = queries.failures_by(page.connection, page.filters, "error_category")
    if categories.empty:
        st.info("No failed messages in the selection.")
        return
    categories["value"] = categories["value"].fillna("unspecified")
    chart, table = st.columns([3, 2])
    chart.altair_chart(
        charts.bars(
            categories,
            "value",
            "failed",
            category_title="Error category",
            value_title="Failed messages",
            color=charts.FAILED,
            extra_tooltips=[alt.Tooltip("share:Q", title="Share of failures", format=".1%")],
        )
    )
    table.dataframe(
        categories[["value", "failed", "share"]],
        hide_index=True,
        column_config={
            "value": "Error category",
            "failed": st.column_config.NumberColumn("Failed", format="%d"),
            "share": st.column_config.NumberColumn("Share of failures", format="percent"),
        },
    )

    st.subheader("By provider code")
    by_code = queries.failures_by_code(page.connection, page.filters)
    details = [None if _missing(detail) else str(detail) for detail in by_code["error_code"]]
    by_code["code"] = [
        codes.code_label(str(status), detail)
        for status, detail in zip(by_code["provider_status"], details, strict=True)
    ]
    by_code["meaning"] = [
        codes.meaning(str(provider), str(status), detail)
        for provider, status, detail in zip(
            by_code["provider"], by_code["provider_status"], details, strict=True
        )
    ]
    st.dataframe(
        by_code[["provider", "code", "meaning", "error_category", "failed", "share"]],
        hide_index=True,
        column_config={
            "provider": "Provider",
            "code": st.column_config.TextColumn(
                "Code", help="status code / detail code, as the provider sent them"
            ),
            "meaning": st.column_config.TextColumn("Meaning (provider documentation)"),
            "error_category": "Error category",
            "failed": st.column_config.NumberColumn("Failed", format="%d"),
            "share": st.column_config.NumberColumn("Share of failures", format="percent"),
        },
    )
    st.caption(
        "Meanings from the gateways' webhook documentation: SMSGateway24 `status_id`, "
        "Smstools `delivery_code` / `delivery_code_detail`."
    )


def _missing(value: object) -> bool:
    return value is None or value != value  # None or NaN


def top_failing(page: PageContext) -> None:
    st.subheader("Top failing")
    st.session_state.setdefault(MIN_DECIDED, 20)
    minimum = st.number_input(
        "Only values with at least this many delivered + failed messages",
        min_value=1,
        step=5,
        key=MIN_DECIDED,
    )
    for column, (dimension, (heading, title)) in zip(st.columns(3), TOP.items(), strict=True):
        with column:
            st.markdown(f"**{heading}**")
            frame = queries.top_failing(page.connection, page.filters, dimension, 10, int(minimum))
            if frame.empty:
                st.caption(f"None with failures and at least {int(minimum)} decided messages.")
                continue
            frame["decided"] = frame["failed"] + frame["delivered"]
            st.dataframe(
                frame[["value", "failure_rate", "failed", "decided"]],
                hide_index=True,
                column_config={
                    "value": title,
                    "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
                    "failed": st.column_config.NumberColumn("Failed", format="%d"),
                    "decided": st.column_config.NumberColumn(
                        "Decided", format="%d", help="delivered + failed"
                    ),
                },
            )


live("Failures", render)
