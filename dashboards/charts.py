"""Altair charts with titled axes and units. Times arrive as display-zone wall-clock
(format.local_times), so the time axis reads the same in every browser."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import altair as alt

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped]

# Streamlit fits the whole chart (axes and legend too) into its height.
HEIGHT = 320
SMALL = 270
FAILED = "#d62728"
RESOLVED = "#ff9f40"
BAND = 22  # px per bar of a bar chart
# A log axis labels only these (seconds): symlog alone labels just 0 and the top.
LOG_TICKS = [0, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]
# Charts drawn one above the other share this y-axis width, so their time axes line up.
Y_AXIS_EXTENT = 130


def _time_axis(zone: ZoneInfo, start: datetime, end: datetime, field: str) -> alt.X:
    # The whole selected range, even where there is no data yet.
    domain = [_wall(start, zone), _wall(end, zone)]
    return alt.X(
        f"{field}:T",
        title=f"Time ({zone.key})",
        scale=alt.Scale(domain=domain),
        axis=alt.Axis(format="%H:%M" if (end - start).days < 2 else "%b %d %H:%M"),
    )


def _wall(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).replace(tzinfo=None).isoformat()


def lines_over_time(
    frame: DataFrame,
    series: dict[str, str],
    *,
    y_title: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    x: str = "bucket_start",
    percent: bool = False,
    log: bool = False,
    height: int = HEIGHT,
) -> alt.Chart:
    """One line per column in ``series`` (column -> legend label). ``log``: a symmetric
    log scale, for latencies whose long tail would flatten everything else."""
    long = frame[[x, *series]].melt(id_vars=[x], var_name="series", value_name="value")
    long["series"] = long["series"].map(series)
    number = ".1%" if percent else ",.1f"
    chart: alt.Chart = (
        alt.Chart(long, height=height)
        .mark_line(point=True)
        .encode(
            x=_time_axis(zone, start, end, x),
            y=alt.Y(
                "value:Q",
                title=y_title,
                axis=alt.Axis(
                    format=".0%" if percent else ",~f", values=LOG_TICKS if log else alt.Undefined
                ),
                scale=alt.Scale(type="symlog") if log else alt.Scale(),
            ),
            color=alt.Color(
                "series:N",
                title=None,
                sort=list(series.values()),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip(f"{x}:T", title="Time", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("value:Q", title=y_title, format=number),
            ],
        )
    )
    return chart


def bars_over_time(
    frame: DataFrame,
    value: str,
    *,
    y_title: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    bucket_s: int,
    x: str = "bucket_start",
    stack: dict[str, str] | None = None,
    height: int = HEIGHT,
) -> alt.Chart:
    """Counts per bucket; with ``stack`` (column -> label), stacked parts. Each bar spans
    its bucket exactly (bucket_s), however many there are."""
    import pandas as pd

    columns = stack or {value: y_title}
    long = frame[[x, *columns]].melt(id_vars=[x], var_name="part", value_name="count")
    long["part"] = long["part"].map(columns)
    long["bucket_end"] = long[x] + pd.Timedelta(seconds=bucket_s)
    chart: alt.Chart = (
        alt.Chart(long, height=height)
        .mark_bar()
        .encode(
            x=_time_axis(zone, start, end, x),
            x2="bucket_end:T",
            y=alt.Y("sum(count):Q", title=y_title, stack=True, axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "part:N",
                title=None,
                sort=list(columns.values()),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip(f"{x}:T", title="Time", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("part:N", title="Series"),
                alt.Tooltip("sum(count):Q", title="Messages", format=","),
            ],
        )
    )
    return chart


def failure_rate(
    frame: DataFrame,
    shaded_periods: DataFrame | None = None,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    height: int = HEIGHT,
    y_extent: int | None = Y_AXIS_EXTENT,
) -> alt.LayerChart | alt.Chart:
    """Failure rate per window; ``shaded_periods`` (alert_periods rows) shaded behind it.
    ``y_extent``: the y axis's fixed width (to line up with alert_lanes), None = auto."""
    line: alt.Chart = (
        alt.Chart(frame, height=height)
        .mark_line(point=alt.OverlayMarkDef(color=FAILED), color=FAILED)
        .encode(
            x=_time_axis(zone, start, end, "window_start"),
            y=alt.Y(
                "failure_rate:Q",
                title="Failure rate (%)",
                axis=alt.Axis(format=".0%", minExtent=y_extent, maxExtent=y_extent)
                if y_extent
                else alt.Axis(format=".0%"),
                scale=alt.Scale(domainMin=0),
            ),
            tooltip=[
                alt.Tooltip("window_start:T", title="Window", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("failure_rate:Q", title="Failure rate", format=".1%"),
                alt.Tooltip("failed:Q", title="Failed", format=","),
                alt.Tooltip("delivered:Q", title="Delivered", format=","),
                alt.Tooltip("unknown:Q", title="Unknown outcome", format=","),
            ],
        )
    )
    if shaded_periods is None or shaded_periods.empty:
        return line
    shaded: alt.Chart = (
        alt.Chart(shaded_periods)
        .mark_rect(opacity=0.15)
        .encode(x="period_start:T", x2="period_end:T", color=_alert_color(), tooltip=_ALERT_TIPS)
    )
    return alt.LayerChart(layer=[shaded, line])


def alert_lanes(periods: DataFrame, *, zone: ZoneInfo, start: datetime, end: datetime) -> alt.Chart:
    """One lane per alerted dimension value, a bar for each alert period; drawn under the
    failure-rate chart with the same time axis and y-axis width, so the two line up."""
    lanes = max(periods["label"].nunique(), 1)
    chart: alt.Chart = (
        alt.Chart(periods, height=30 * lanes + 80)
        .mark_bar(cornerRadius=3, height=alt.RelativeBandSize(0.7))
        .encode(
            x=_time_axis(zone, start, end, "period_start"),
            x2="period_end:T",
            y=alt.Y(
                "label:N",
                title="Alerts",
                axis=alt.Axis(minExtent=Y_AXIS_EXTENT, maxExtent=Y_AXIS_EXTENT, labelLimit=120),
            ),
            color=_alert_color(legend=False),
            tooltip=_ALERT_TIPS,
        )
    )
    return chart


def _alert_color(legend: bool = True) -> alt.Color:
    return alt.Color(
        "state:N",
        title="Alert",
        scale=alt.Scale(domain=["firing", "resolved"], range=[FAILED, RESOLVED]),
        legend=alt.Legend(orient="bottom") if legend else None,
    )


_ALERT_TIPS = [
    alt.Tooltip("message:N", title="Alert"),
    alt.Tooltip("state:N", title="State"),
    alt.Tooltip("started_at:T", title="Started", format="%Y-%m-%d %H:%M:%S"),
    alt.Tooltip("resolved_at:T", title="Resolved", format="%Y-%m-%d %H:%M:%S"),
]


def bars(
    frame: DataFrame,
    category: str,
    value: str,
    *,
    category_title: str,
    value_title: str,
    percent: bool = False,
    color: str = "#4c78a8",
    extra_tooltips: list[Any] | None = None,
) -> alt.Chart:
    """Horizontal bars, largest first, one band of BAND px per category."""
    chart: alt.Chart = (
        alt.Chart(frame, height=alt.Step(BAND))
        .mark_bar(color=color)
        .encode(
            y=alt.Y(
                f"{category}:N", title=category_title, sort="-x", axis=alt.Axis(labelLimit=200)
            ),
            x=alt.X(
                f"{value}:Q",
                title=value_title,
                axis=alt.Axis(format=".0%" if percent else ",~f"),
            ),
            tooltip=[
                alt.Tooltip(f"{category}:N", title=category_title),
                alt.Tooltip(f"{value}:Q", title=value_title, format=".1%" if percent else ",~f"),
                *(extra_tooltips or []),
            ],
        )
    )
    return chart


def histogram(frame: DataFrame, *, x_title: str, height: int = HEIGHT) -> alt.Chart:
    """Bins from latency_distribution: bin_start_s, bin_end_s, messages."""
    chart: alt.Chart = (
        alt.Chart(frame, height=height)
        .mark_bar()
        .encode(
            x=alt.X("bin_start_s:Q", title=x_title, bin="binned"),
            x2="bin_end_s:Q",
            y=alt.Y("messages:Q", title="Messages"),
            tooltip=[
                alt.Tooltip("bin_start_s:Q", title="From (s)", format=",.1f"),
                alt.Tooltip("bin_end_s:Q", title="To (s)", format=",.1f"),
                alt.Tooltip("messages:Q", title="Messages", format=","),
            ],
        )
    )
    return chart


def grouped_percentiles(frame: DataFrame, *, value_title: str) -> alt.Chart:
    """Latency percentiles per dimension value: one bar per percentile, side by side."""
    chart: alt.Chart = (
        alt.Chart(frame, height=min(60 + 40 * max(frame["value"].nunique(), 1), 480))
        .mark_bar()
        .encode(
            y=alt.Y("value:N", title=None, sort=None),
            yOffset=alt.YOffset("percentile:N", sort=["p50", "p95", "p99"]),
            x=alt.X("seconds:Q", title=value_title),
            color=alt.Color("percentile:N", title="Percentile", sort=["p50", "p95", "p99"]),
            tooltip=[
                alt.Tooltip("value:N", title="Value"),
                alt.Tooltip("percentile:N", title="Percentile"),
                alt.Tooltip("seconds:Q", title=value_title, format=",.1f"),
                alt.Tooltip("messages:Q", title="Messages", format=","),
            ],
        )
    )
    return chart
