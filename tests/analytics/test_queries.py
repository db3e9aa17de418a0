"""The dashboard's queries (analytics.queries) over a store seeded with known rows.

Every expected number below is worked out by hand from the rows in ``seeded``; the
percentiles are quantile_cont's (linear interpolation between the closest ranks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics import queries, synthetic
from analytics.queries import Filters
from analytics.reader import connect
from analytics.relations import RELATIONS
from smsradar.settings import Settings
from tests.support.seeded_store import CURRENT, HOUR, INJECTION, SGW, ST, T0, at, seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    data_dir = tmp_path_factory.mktemp("seeded")
    seed(data_dir)
    connection = connect(Settings(data_dir=data_dir))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(Settings(data_dir=tmp_path_factory.mktemp("empty")))
    yield connection
    connection.close()


def records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as dicts, with NaN/NaT as None and timestamps as datetimes."""
    out = []
    for row in frame.to_dict("records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                clean[key] = None
            elif hasattr(value, "to_pydatetime"):
                clean[key] = None if str(value) == "NaT" else value.to_pydatetime()
            elif hasattr(value, "item"):  # numpy scalars
                clean[key] = value.item()
            else:
                clean[key] = value
        out.append(clean)
    return out


def column(frame: Any, name: str) -> list[Any]:
    return [row[name] for row in records(frame)]


def approx_rows(expected: list[dict[str, Any]]) -> Any:
    return [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}
            for row in expected]  # fmt: skip


# -- Filters -------------------------------------------------------------------------------
def test_filters_need_aware_ordered_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        Filters(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="after"):
        Filters(T0, T0)
    shifted = Filters(datetime(2025, 1, 1, 13, tzinfo=timezone(HOUR)), T0 + HOUR)
    assert shifted.start == T0 and shifted.start.tzinfo == UTC
    assert CURRENT.previous() == Filters(T0 - HOUR, T0)
    assert Filters.last(HOUR, end=T0 + HOUR, provider=SGW) == Filters(T0, T0 + HOUR, SGW)


# -- KPIs ----------------------------------------------------------------------------------
def test_kpis_current_and_previous_period(seeded: duckdb.DuckDBPyConnection) -> None:
    result = queries.kpis(seeded, CURRENT)
    now = result.current
    assert (now.sent, now.delivered, now.failed, now.in_flight, now.unknown) == (9, 4, 3, 1, 1)
    assert now.delivery_rate == pytest.approx(4 / 7)
    assert now.failure_rate == pytest.approx(3 / 7)
    # delivery latencies 2, 4, 10, 20
    assert now.delivery_p50_s == pytest.approx(7.0)
    assert now.delivery_p95_s == pytest.approx(18.5)
    assert now.delivery_p99_s == pytest.approx(19.7)

    before = result.previous  # p1 and p2 (at the period's start); not p3, one second earlier
    assert (before.sent, before.delivered, before.failed, before.in_flight) == (2, 1, 1, 0)
    assert before.delivery_rate == pytest.approx(0.5)
    assert before.delivery_p50_s == before.delivery_p95_s == before.delivery_p99_s == 8.0
    assert result.delta("sent") == 7
    assert result.delta("delivery_rate") == pytest.approx(4 / 7 - 0.5)


def test_kpis_with_dimension_filters(seeded: duckdb.DuckDBPyConnection) -> None:
    gateway = queries.kpis(seeded, Filters(T0, T0 + HOUR, provider=SGW)).current
    assert (gateway.sent, gateway.delivered, gateway.failed, gateway.in_flight) == (6, 3, 2, 1)
    assert gateway.unknown == 0
    assert gateway.delivery_p50_s == pytest.approx(10.0)  # of 4, 10, 20
    assert gateway.delivery_p95_s == pytest.approx(19.0)
    assert gateway.delivery_p99_s == pytest.approx(19.8)

    device = queries.kpis(seeded, Filters(T0, T0 + HOUR, device_id="d2")).current
    assert (device.sent, device.delivered, device.failed, device.in_flight) == (3, 1, 1, 1)
    assert device.delivery_p50_s == 20.0

    netherlands = queries.kpis(seeded, Filters(T0, T0 + HOUR, country="NL"))
    assert (netherlands.current.sent, netherlands.current.delivered) == (4, 2)
    assert netherlands.current.delivery_p50_s == pytest.approx(7.0)
    assert (netherlands.previous.sent, netherlands.previous.failed) == (2, 1)

    both = queries.kpis(seeded, Filters(T0, T0 + HOUR, provider=ST, country="BE")).current
    assert (both.sent, both.delivered, both.failed) == (2, 1, 1)


def test_kpis_of_nothing(seeded: duckdb.DuckDBPyConnection) -> None:
    later = queries.kpis(seeded, Filters(T0 + 10 * HOUR, T0 + 11 * HOUR))
    assert later.current == later.previous == queries.EMPTY_KPIS
    assert later.current.delivery_rate is None
    assert later.delta("delivery_rate") is None


# -- latency -------------------------------------------------------------------------------
def test_latency_over_time(seeded: duckdb.DuckDBPyConnection) -> None:
    frame = queries.latency_over_time(seeded, CURRENT, 1800)
    assert records(frame) == approx_rows(
        [
            {
                "bucket_start": at(0),
                "messages": 3,
                "delivered": 3,
                "delivery_p50_s": 4.0,  # of 2, 4, 10
                "delivery_p95_s": 9.4,
                "delivery_p99_s": 9.88,
                "queue_p50_s": 1.0,  # of 0, 1, 2
                "queue_p95_s": 1.9,
                "queue_p99_s": 1.98,
                "total_p50_s": 6.0,  # of 2, 6, 11
                "total_p95_s": 10.5,
                "total_p99_s": 10.9,
            },
            {
                "bucket_start": at(30),
                "messages": 6,
                "delivered": 1,
                "delivery_p50_s": 20.0,
                "delivery_p95_s": 20.0,
                "delivery_p99_s": 20.0,
                "queue_p50_s": 1.0,  # of 0, 0, 1, 1, 3 (the queued message has none)
                "queue_p95_s": 2.6,
                "queue_p99_s": 2.92,
                "total_p50_s": 21.0,
                "total_p95_s": 21.0,
                "total_p99_s": 21.0,
            },
        ]
    )
    hourly = queries.latency_over_time(seeded, CURRENT, 3600)
    assert column(hourly, "bucket_start") == [T0]
    assert column(hourly, "messages") == [9]
    with pytest.raises(ValueError):
        queries.latency_over_time(seeded, CURRENT, 0)


def test_latency_by_each_dimension(seeded: duckdb.DuckDBPyConnection) -> None:
    by_provider = records(queries.latency_by(seeded, CURRENT, "provider"))
    assert by_provider == approx_rows(
        [
            {
                "value": SGW,
                "messages": 6,
                "delivered": 3,
                "delivery_mean_s": 34 / 3,
                "delivery_p50_s": 10.0,
                "delivery_p95_s": 19.0,
                "delivery_p99_s": 19.8,
            },
            {
                "value": ST,
                "messages": 3,
                "delivered": 1,
                "delivery_mean_s": 2.0,
                "delivery_p50_s": 2.0,
                "delivery_p95_s": 2.0,
                "delivery_p99_s": 2.0,
            },
        ]
    )
    # worst p95 first; messages without a device are left out
    devices = queries.latency_by(seeded, CURRENT, "device_id")
    assert column(devices, "value") == ["d2", "d1"]
    assert column(devices, "delivery_p95_s") == pytest.approx([20.0, 9.7])
    assert column(devices, "messages") == [3, 3]

    sims = queries.latency_by(seeded, CURRENT, "sim")
    assert column(sims, "value") == ["d2/0", "d1/1", "d1/0", "d2/1"]
    assert column(sims, "delivery_p95_s") == [20.0, 10.0, 4.0, None]

    countries = queries.latency_by(seeded, CURRENT, "recipient_country")
    assert column(countries, "value") == ["DE", "NL", "BE", None]  # None: invalid number
    assert column(countries, "messages") == [2, 4, 2, 1]
    assert column(countries, "delivery_p95_s") == pytest.approx([20.0, 9.7, 2.0, None])


def test_dimensions_come_only_from_the_allow_list(seeded: duckdb.DuckDBPyConnection) -> None:
    for bad in ("status", "provider; DROP VIEW messages", "device_id OR 1=1", ""):
        with pytest.raises(ValueError, match="unknown dimension"):
            queries.latency_by(seeded, CURRENT, bad)
        with pytest.raises(ValueError, match="unknown dimension"):
            queries.failures_by(seeded, CURRENT, bad)
        with pytest.raises(ValueError, match="unknown dimension"):
            queries.top_failing(seeded, CURRENT, bad)


def test_latency_distribution(seeded: duckdb.DuckDBPyConnection) -> None:
    # latencies 2, 4, 10, 20: from 2 to 20 in bins of 4.5
    assert records(queries.latency_distribution(seeded, CURRENT, 4)) == approx_rows(
        [
            {"bin": 0, "bin_start_s": 2.0, "bin_end_s": 6.5, "messages": 2},
            {"bin": 1, "bin_start_s": 6.5, "bin_end_s": 11.0, "messages": 1},
            {"bin": 2, "bin_start_s": 11.0, "bin_end_s": 15.5, "messages": 0},
            {"bin": 3, "bin_start_s": 15.5, "bin_end_s": 20.0, "messages": 1},
        ]
    )
    # up to 10 s, the tail (20) folded into the last bin
    folded = queries.latency_distribution(seeded, CURRENT, 2, upper_s=10.0)
    assert records(folded) == approx_rows(
        [
            {"bin": 0, "bin_start_s": 2.0, "bin_end_s": 6.0, "messages": 2},
            {"bin": 1, "bin_start_s": 6.0, "bin_end_s": 10.0, "messages": 2},
        ]
    )
    single = queries.latency_distribution(seeded, Filters(T0, T0 + HOUR, device_id="d2"), 5)
    assert records(single) == [{"bin": 0, "bin_start_s": 20.0, "bin_end_s": 20.0, "messages": 1}]
    nothing = queries.latency_distribution(seeded, Filters(T0 + 5 * HOUR, T0 + 6 * HOUR))
    assert records(nothing) == []
    with pytest.raises(ValueError):
        queries.latency_distribution(seeded, CURRENT, 0)


# -- failures ------------------------------------------------------------------------------
def test_failure_rate_over_time_overall(seeded: duckdb.DuckDBPyConnection) -> None:
    minutes = records(queries.failure_rate_over_time(seeded, CURRENT))
    assert minutes == approx_rows(
        [
            {
                "window_start": at(0),
                "window_end": at(1),
                "dimension": "overall",
                "dimension_value": "all",
                "delivered": 4,  # two partitions' counts, summed
                "failed": 2,
                "unknown": 1,
                "total": 7,
                "failure_rate": 2 / 6,
            },
            {
                "window_start": at(1),
                "window_end": at(2),
                "dimension": "overall",
                "dimension_value": "all",
                "delivered": 5,
                "failed": 0,
                "unknown": 0,
                "total": 5,
                "failure_rate": 0.0,
            },
            {
                "window_start": at(30),
                "window_end": at(31),
                "dimension": "overall",
                "dimension_value": "all",
                "delivered": 1,
                "failed": 1,
                "unknown": 0,
                "total": 2,
                "failure_rate": 0.5,
            },
        ]
    )
    halves = queries.failure_rate_over_time(seeded, CURRENT, bucket_s=1800)
    assert column(halves, "window_start") == [at(0), at(30)]
    assert column(halves, "window_end") == [at(30), at(60)]
    assert column(halves, "delivered") == [9, 1]
    assert column(halves, "failed") == [2, 1]
    assert column(halves, "failure_rate") == pytest.approx([2 / 11, 0.5])


def test_failure_rate_over_time_follows_the_filter(seeded: duckdb.DuckDBPyConnection) -> None:
    provider = queries.failure_rate_over_time(seeded, Filters(T0, T0 + HOUR, provider=SGW))
    assert column(provider, "dimension") == ["provider"]
    assert column(provider, "failure_rate") == pytest.approx([1 / 3])
    # device is the most specific: it wins over provider and country
    device = Filters(T0, T0 + HOUR, provider=SGW, device_id="d1", country="NL")
    assert queries.failure_rate_dimension(device) == ("device", "d1")
    frame = queries.failure_rate_over_time(seeded, device)
    assert column(frame, "window_start") == [at(2)]
    assert column(frame, "failure_rate") == [1.0]
    country = queries.failure_rate_over_time(seeded, Filters(T0, T0 + HOUR, country="NL"))
    assert column(country, "dimension_value") == ["NL"]
    assert column(country, "failure_rate") == [0.0]
    assert (
        records(queries.failure_rate_over_time(seeded, Filters(T0, T0 + HOUR, provider=INJECTION)))
        == []
    )


def test_failures_by_each_dimension(seeded: duckdb.DuckDBPyConnection) -> None:
    categories = records(queries.failures_by(seeded, CURRENT, "error_category"))
    # "unmapped" (on the unknown outcome) has no failure: not listed
    assert categories == approx_rows(
        [
            {
                "value": "device",
                "failed": 2,
                "delivered": 0,
                "unknown": 0,
                "messages": 2,
                "failure_rate": None,
                "share": 2 / 3,
            },
            {
                "value": "unreachable",
                "failed": 1,
                "delivered": 0,
                "unknown": 0,
                "messages": 1,
                "failure_rate": None,
                "share": 1 / 3,
            },
        ]
    )
    codes = queries.failures_by(seeded, CURRENT, "provider_status")
    assert column(codes, "value") == ["smsgateway24:10", "smsgateway24:12", "smstools:2"]
    assert column(codes, "failure_rate") == [None, None, None]
    assert column(codes, "share") == pytest.approx([1 / 3] * 3)

    devices = records(queries.failures_by(seeded, CURRENT, "device_id"))
    assert devices == approx_rows(
        [
            {
                "value": "d1",
                "failed": 1,
                "delivered": 2,
                "unknown": 0,
                "messages": 3,
                "failure_rate": 1 / 3,
                "share": 1 / 3,  # of all 3 failures, one of them without a device
            },
            {
                "value": "d2",
                "failed": 1,
                "delivered": 1,
                "unknown": 0,
                "messages": 3,
                "failure_rate": 0.5,
                "share": 1 / 3,
            },
        ]
    )
    sims = queries.failures_by(seeded, CURRENT, "sim")
    assert column(sims, "value") == ["d1/0", "d2/0"]
    assert column(sims, "failure_rate") == [0.5, 0.5]

    countries = queries.failures_by(seeded, CURRENT, "recipient_country")
    assert column(countries, "value") == ["BE", "DE", "NL"]
    assert column(countries, "failure_rate") == pytest.approx([0.5, 0.5, 1 / 3])
    assert column(countries, "messages") == [2, 2, 4]

    gateway = queries.failures_by(seeded, Filters(T0, T0 + HOUR, provider=SGW), "device_id")
    assert column(gateway, "share") == pytest.approx([0.5, 0.5])


def test_top_failing(seeded: duckdb.DuckDBPyConnection) -> None:
    countries = queries.top_failing(seeded, CURRENT, "recipient_country", 2, min_decided=1)
    assert column(countries, "value") == ["BE", "DE"]  # rate 0.5 each, then by name
    at_least_three = queries.top_failing(seeded, CURRENT, "recipient_country", min_decided=3)
    assert column(at_least_three, "value") == ["NL"]
    assert records(queries.top_failing(seeded, CURRENT, "recipient_country")) == []  # < 20
    devices = queries.top_failing(seeded, CURRENT, "device_id", 5, min_decided=2)
    assert column(devices, "value") == ["d2", "d1"]
    assert column(devices, "failure_rate") == pytest.approx([0.5, 1 / 3])
    # no rate for categories: the most failures, whatever min_decided
    assert column(queries.top_failing(seeded, CURRENT, "error_category", 1), "value") == ["device"]
    with pytest.raises(ValueError):
        queries.top_failing(seeded, CURRENT, "device_id", 0)


def test_failures_by_code(seeded: duckdb.DuckDBPyConnection) -> None:
    assert records(queries.failures_by_code(seeded, CURRENT)) == approx_rows(
        [
            {"provider": SGW, "provider_status": "10", "error_code": None,
             "error_category": "device", "failed": 1, "share": 1 / 3},
            {"provider": SGW, "provider_status": "12", "error_code": None,
             "error_category": "device", "failed": 1, "share": 1 / 3},
            {"provider": ST, "provider_status": "2", "error_code": "11",
             "error_category": "unreachable", "failed": 1, "share": 1 / 3},
        ]
    )  # fmt: skip
    smstools = queries.failures_by_code(seeded, Filters(T0, T0 + HOUR, provider=ST))
    assert column(smstools, "error_code") == ["11"]
    assert column(smstools, "share") == [1.0]
    assert records(queries.failures_by_code(seeded, Filters(T0, T0 + HOUR, INJECTION))) == []


# -- single messages -----------------------------------------------------------------------
def test_message_timeline(seeded: duckdb.DuckDBPyConnection) -> None:
    frame = queries.message_timeline(seeded, SGW, "1")
    assert column(frame, "status") == ["queued", "sent", "delivered"]
    assert column(frame, "event_time") == [at(0), at(0, 2), at(0, 6)]
    assert column(frame, "gap_s") == [None, 2.0, 4.0]
    assert column(frame, "provider_status") == ["3", "6", "7"]

    hinted = queries.message_timeline(seeded, SGW, "1", created_at=at(0), last_event_at=at(0, 6))
    assert records(hinted) == records(frame)
    # the hint bounds the events read: none after last_event_at
    early = queries.message_timeline(seeded, SGW, "1", created_at=at(0), last_event_at=at(0, 3))
    assert column(early, "status") == ["queued", "sent"]

    assert column(queries.message_timeline(seeded, ST, "1"), "status") == ["sent"]
    assert records(queries.message_timeline(seeded, SGW, "1' OR '1'='1")) == []
    assert records(queries.message_timeline(seeded, INJECTION, "1")) == []


def test_search_messages(seeded: duckdb.DuckDBPyConnection) -> None:
    # exact id first, then a recipient that contains the text
    assert column(queries.search_messages(seeded, "10"), "message_id") == ["10", "2"]
    # prefixes, newest first
    assert column(queries.search_messages(seeded, "a"), "message_id") == ["a7", "a5", "a3"]
    assert column(queries.search_messages(seeded, " a5 "), "message_id") == ["a5"]
    found = queries.search_messages(seeded, "+3162222220")
    assert column(found, "message_id") == ["6", "10", "1"]
    assert column(found, "created_at") == [at(50), at(45), at(0)]
    older = queries.search_messages(seeded, "+3162222229")
    assert column(older, "message_id") == ["9", "p1", "p2", "p3"]
    assert column(queries.search_messages(seeded, "+3162222229", limit=2), "message_id") == [
        "9",
        "p1",
    ]
    # within the filters' range only
    assert records(queries.search_messages(seeded, "+3162222229", filters=CURRENT)) == []
    in_range = queries.search_messages(seeded, "+316", filters=Filters(T0, T0 + HOUR, "x"))
    assert records(in_range) == []
    nl_now = queries.search_messages(seeded, "+316", filters=CURRENT)
    assert column(nl_now, "message_id") == ["6", "10", "2", "1"]
    # text is data: LIKE wildcards, quotes and blanks match nothing
    for text in ("%", "_", "", "   ", INJECTION, "' OR ''='"):
        assert records(queries.search_messages(seeded, text)) == [], text
    with pytest.raises(ValueError):
        queries.search_messages(seeded, "1", limit=0)


# -- inbound -------------------------------------------------------------------------------
def test_inbound_over_time(seeded: duckdb.DuckDBPyConnection) -> None:
    frame = queries.inbound_over_time(seeded, CURRENT, 1800)
    assert records(frame) == [
        {"bucket_start": at(0), "messages": 2, "replies": 2},
        {"bucket_start": at(30), "messages": 4, "replies": 3},
    ]
    smstools = queries.inbound_over_time(seeded, Filters(T0, T0 + HOUR, provider=ST), 1800)
    assert records(smstools) == [
        {"bucket_start": at(0), "messages": 1, "replies": 1},
        {"bucket_start": at(30), "messages": 1, "replies": 1},
    ]
    device = queries.inbound_over_time(seeded, Filters(T0, T0 + HOUR, device_id="d2"), 3600)
    assert records(device) == [{"bucket_start": at(0), "messages": 1, "replies": 0}]
    none = Filters(T0, T0 + HOUR, provider=INJECTION)
    assert records(queries.inbound_over_time(seeded, none, 60)) == []


def test_replies(seeded: duckdb.DuckDBPyConnection) -> None:
    frame = queries.replies(seeded, CURRENT)
    assert column(frame, "message_id") == ["in2", "in1"]  # newest first
    assert column(frame, "reply_to_message_id") == ["a3", "1"]
    assert column(frame, "recipient_country") == ["BE", "NL"]
    assert column(frame, "reply_to_status") == ["read", "delivered"]
    # 5 minutes after creation, less the 6 s (message 1) and 2 s (a3) to delivery
    assert column(frame, "reply_after_s") == pytest.approx([298.0, 294.0])
    belgium = queries.replies(seeded, Filters(T0, T0 + HOUR, country="BE"))
    assert column(belgium, "message_id") == ["in2"]
    # a wider window finds the reply to the two-day-old message
    wide = queries.replies(seeded, CURRENT, reply_window=timedelta(days=3))
    assert column(wide, "message_id") == ["in7", "in2", "in1"]
    assert column(queries.replies(seeded, CURRENT, limit=1), "message_id") == ["in2"]
    assert records(queries.replies(seeded, Filters(T0, T0 + HOUR, provider=INJECTION))) == []
    assert records(queries.replies(seeded, Filters(T0, T0 + HOUR, country=INJECTION))) == []


# -- alerts --------------------------------------------------------------------------------
def test_alerts(seeded: duckdb.DuckDBPyConnection) -> None:
    assert column(queries.alerts(seeded, "firing"), "alert_id") == ["a1", "a4"]
    assert column(queries.alerts(seeded, "resolved"), "alert_id") == ["a2"]
    everything = queries.alerts(seeded, "all")
    assert column(everything, "alert_id") == ["a3", "a1", "a2", "a4"]
    assert column(everything, "resolved_at") == [None, None, at(60), None]
    assert column(queries.alerts(seeded), "alert_id") == ["a3", "a1", "a2", "a4"]
    with pytest.raises(ValueError, match="state"):
        queries.alerts(seeded, INJECTION)  # type: ignore[arg-type]


# -- what the store holds ------------------------------------------------------------------
def test_dimension_values(seeded: duckdb.DuckDBPyConnection) -> None:
    now = queries.dimension_values(seeded, T0, T0 + HOUR)
    assert now == queries.DimensionValues(
        providers=[SGW, ST], devices=["d1", "d2"], countries=["BE", "DE", "NL"]
    )
    before = queries.dimension_values(seeded, T0 - HOUR, T0)
    assert (before.providers, before.devices, before.countries) == ([SGW], ["d1"], ["NL"])
    later = queries.dimension_values(seeded, T0 + 5 * HOUR, T0 + 6 * HOUR)
    assert later == queries.DimensionValues([], [], [])


def test_store_extent(seeded: duckdb.DuckDBPyConnection, empty: duckdb.DuckDBPyConnection) -> None:
    extent = queries.store_extent(seeded)
    assert (extent.messages, extent.inbound) == (14, 7)
    assert extent.newest_message_at == at(60)
    assert extent.newest_inbound_at == at(50)
    assert not extent.is_empty
    nothing = queries.store_extent(empty)
    assert nothing == queries.StoreExtent(0, None, 0, None) and nothing.is_empty


# -- safety and emptiness ------------------------------------------------------------------
def test_injected_filter_values_match_nothing(seeded: duckdb.DuckDBPyConnection) -> None:
    for field in ("provider", "device_id", "country"):
        filters = Filters(T0, T0 + HOUR, **{field: INJECTION})
        assert queries.kpis(seeded, filters).current == queries.EMPTY_KPIS
        assert records(queries.latency_over_time(seeded, filters, 60)) == []
        assert records(queries.latency_by(seeded, filters, "provider")) == []
        assert records(queries.failures_by(seeded, filters, "device_id")) == []
    # and the views are still there
    assert queries.kpis(seeded, CURRENT).current.sent == 9


def test_every_query_runs_on_an_empty_store(empty: duckdb.DuckDBPyConnection) -> None:
    assert queries.kpis(empty, CURRENT).current == queries.EMPTY_KPIS
    frames = [
        queries.latency_over_time(empty, CURRENT, 60),
        queries.latency_by(empty, CURRENT, "sim"),
        queries.latency_distribution(empty, CURRENT),
        queries.failure_rate_over_time(empty, CURRENT),
        queries.failures_by(empty, CURRENT, "error_category"),
        queries.top_failing(empty, CURRENT, "device_id"),
        queries.message_timeline(empty, SGW, "1"),
        queries.search_messages(empty, "1"),
        queries.inbound_over_time(empty, CURRENT, 60),
        queries.replies(empty, CURRENT),
        queries.alerts(empty),
        queries.failures_by_code(empty, CURRENT),
    ]
    for frame in frames:
        assert len(frame) == 0 and len(frame.columns) > 0


# -- the synthetic store -------------------------------------------------------------------
def test_synthetic_store(tmp_path: Path) -> None:
    end = datetime(2025, 3, 1, tzinfo=UTC)
    made = synthetic.generate(tmp_path, 5_000, end=end, days=2)
    assert made.rows["messages"] == 5_000
    assert made.end == end and made.start >= end - timedelta(days=2)
    for name, path in made.files.items():
        relation = RELATIONS[name]
        schema = pq.read_schema(path)
        assert schema.names == relation.schema.names, name
        assert schema.types == relation.schema.types, name
        times = pq.read_table(path, columns=[relation.time_column]).column(0).to_pylist()
        assert times == sorted(times), f"{name} is not sorted by {relation.time_column}"
        assert len(times) == made.rows[name]

    connection = connect(Settings(data_dir=tmp_path))
    count = connection.execute
    assert count("SELECT count(*) FROM messages").fetchall() == [(5_000,)]
    assert (
        count("SELECT sum(events) FROM messages").fetchall()
        == count("SELECT count(*) FROM status_events").fetchall()
    )
    everything = queries.kpis(connection, Filters(made.start, made.end)).current
    assert everything.sent == 5_000
    assert 0.85 < everything.delivered / everything.sent < 0.95
    assert 0.03 < everything.failed / everything.sent < 0.09
    assert everything.unknown > 0 and everything.in_flight > 0
    assert everything.delivery_p50_s is not None and everything.delivery_p99_s is not None
    assert everything.delivery_p99_s > 5 * everything.delivery_p50_s  # a long tail
    devices = queries.latency_by(connection, Filters(made.start, made.end), "device_id")
    assert len(devices) == 50
    # the windows agree with the messages they were computed from
    (outcomes,) = count(
        "SELECT count(*) FROM messages WHERE is_terminal AND outcome_at IS NOT NULL"
    ).fetchall()
    (windowed,) = count(
        "SELECT sum(total) FROM failure_rates WHERE dimension = 'overall'"
    ).fetchall()
    assert windowed == outcomes
    assert len(queries.alerts(connection, "firing")) == 2
    # the same arguments give the same rows
    again = synthetic.generate(tmp_path / "again", 5_000, end=end, days=2)
    for name in ("messages", "status_events", "failure_rates"):
        assert pq.read_table(again.files[name]).equals(pq.read_table(made.files[name])), name
