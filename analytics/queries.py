"""The queries the dashboard runs, as typed functions over a reader connection.

Every function takes a connection from ``analytics.reader.connect`` and returns a pandas
``DataFrame`` (Streamlit and Altair render it as it is) or, for the KPIs, a dataclass.

- Every value a user supplies is bound as a parameter (``$name``), never put into SQL
  text. The only identifiers chosen at run time are group-by columns, and they come from
  the allow-lists below (``LATENCY_DIMENSIONS``, ``FAILURE_DIMENSIONS``), never from the
  caller's string.
- ``Filters`` applies the same way everywhere: a half-open time range ``[start, end)``
  on the relation's time column (``messages.created_at``: segments are sorted by it, so
  the range skips row groups), and optional provider, device and destination country.
- Status groups are the domain's (``smsradar.model``): delivered = ``delivered`` or
  ``read``; failed = ``undelivered``, ``rejected``, ``failed``; unknown = ``unknown``; in
  flight = not yet terminal. Rates follow DESIGN.md: failure rate = failed / (delivered +
  failed), and delivery rate is its complement, delivered / (delivered + failed);
  ``unknown`` outcomes are counted apart. Percentiles are ``quantile_cont`` (linear
  interpolation between the closest ranks).
- Time buckets are whole multiples of ``bucket_s`` since the Unix epoch, in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from smsradar.model import FAILURE_STATUSES, Status

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped]

DELIVERED_STATUSES = sorted([Status.DELIVERED.value, Status.READ.value])
FAILED_STATUSES = sorted(status.value for status in FAILURE_STATUSES)

# Public dimension name -> SQL expression over ``messages``. Only these ever reach SQL text.
# ``sim`` is a SIM of one phone, named "device/sim" as in failure_rates. Messages without a
# value (no device: Smstools) are left out of device_id and sim breakdowns; a message
# without a recipient_country (an invalid number) counts under a NULL value.
LATENCY_DIMENSIONS: dict[str, str] = {
    "provider": "provider",
    "device_id": "device_id",
    "sim": "device_id || '/' || sim",
    "recipient_country": "recipient_country",
}
# ``provider_status`` is the raw code, named "provider:code": the same number means
# different things at different providers.
FAILURE_DIMENSIONS: dict[str, str] = {
    "error_category": "error_category",
    "provider_status": "provider || ':' || provider_status",
    "device_id": "device_id",
    "sim": "device_id || '/' || sim",
    "recipient_country": "recipient_country",
}
_WITHOUT_NULLS = frozenset({"device_id", "sim"})
# Failure-only values: a failure rate of their own would always be 1.
_WITHOUT_RATE = frozenset({"error_category", "provider_status"})
ALERT_STATES = ("firing", "resolved", "all")
# A phone's clock may put an event before the message's created_at (its first
# pending/queued time); message_timeline looks this far back.
TIMELINE_SKEW = timedelta(days=1)
# replies(): how long before the range a message may have been sent and still be matched.
REPLY_WINDOW = timedelta(days=1)
AlertState = Literal["firing", "resolved", "all"]


@dataclass(frozen=True)
class Filters:
    """What the dashboard's sidebar selects; ``start`` and ``end`` must be time-zone aware."""

    start: datetime
    end: datetime
    provider: str | None = None
    device_id: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 of the recipient

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"Filters.{name} must be a time-zone aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError("Filters.end must be after Filters.start")

    @classmethod
    def last(cls, duration: timedelta, end: datetime | None = None, **dimensions: Any) -> Filters:
        """The ``duration`` up to ``end`` (default now)."""
        end = end or datetime.now(UTC)
        return cls(end - duration, end, **dimensions)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Filters:
        """The period of equal length just before this one, same dimensions."""
        return replace(self, start=self.start - self.duration, end=self.start)

    def parameters(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "provider": self.provider,
            "device_id": self.device_id,
            "country": self.country,
        }


# -- SQL ---------------------------------------------------------------------------------
# Messages selected by Filters (parameters: Filters.parameters()).
_MESSAGES_IN_RANGE = """
    SELECT * FROM messages
    WHERE created_at >= $start AND created_at < $end
      AND ($provider IS NULL OR provider = $provider)
      AND ($device_id IS NULL OR device_id = $device_id)
      AND ($country IS NULL OR recipient_country = $country)
"""

# Both periods in one scan: [$previous_start, $start) and [$start, $end).
KPIS_SQL = """
WITH periods AS (
    SELECT created_at >= $start AS is_current, status, is_terminal, delivery_latency_s
    FROM messages
    WHERE created_at >= $previous_start AND created_at < $end
      AND ($provider IS NULL OR provider = $provider)
      AND ($device_id IS NULL OR device_id = $device_id)
      AND ($country IS NULL OR recipient_country = $country)
),
counted AS (
    SELECT
        is_current,
        count(*) AS sent,
        count(*) FILTER (WHERE list_contains($delivered_statuses, status)) AS delivered,
        count(*) FILTER (WHERE list_contains($failed_statuses, status)) AS failed,
        count(*) FILTER (WHERE NOT is_terminal) AS in_flight,
        count(*) FILTER (WHERE status = 'unknown') AS unknown,
        quantile_cont(delivery_latency_s, [0.5, 0.95, 0.99]) AS q
    FROM periods
    GROUP BY is_current
)
SELECT
    is_current, sent, delivered, failed, in_flight, unknown,
    q[1] AS delivery_p50_s, q[2] AS delivery_p95_s, q[3] AS delivery_p99_s
FROM counted
"""

LATENCY_OVER_TIME_SQL = f"""
WITH bucketed AS (
    SELECT
        epoch_us(created_at) // ($bucket_s::BIGINT * 1000000) AS bucket,
        count(*) AS messages,
        count(delivery_latency_s) AS delivered,
        quantile_cont(delivery_latency_s, [0.5, 0.95, 0.99]) AS d,
        quantile_cont(queue_latency_s, [0.5, 0.95, 0.99]) AS q,
        quantile_cont(total_latency_s, [0.5, 0.95, 0.99]) AS t
    FROM ({_MESSAGES_IN_RANGE})
    GROUP BY bucket
)
SELECT
    make_timestamptz(bucket * $bucket_s::BIGINT * 1000000) AS bucket_start,
    messages, delivered,
    d[1] AS delivery_p50_s, d[2] AS delivery_p95_s, d[3] AS delivery_p99_s,
    q[1] AS queue_p50_s, q[2] AS queue_p95_s, q[3] AS queue_p99_s,
    t[1] AS total_p50_s, t[2] AS total_p95_s, t[3] AS total_p99_s
FROM bucketed
ORDER BY bucket_start
"""

# {dimension}: an expression from LATENCY_DIMENSIONS. Worst p95 first.
LATENCY_BY_SQL = f"""
WITH grouped AS (
    SELECT
        {{dimension}} AS value,
        count(*) AS messages,
        count(delivery_latency_s) AS delivered,
        avg(delivery_latency_s) AS delivery_mean_s,
        quantile_cont(delivery_latency_s, [0.5, 0.95, 0.99]) AS d
    FROM ({_MESSAGES_IN_RANGE})
    WHERE $keep_null OR {{dimension}} IS NOT NULL
    GROUP BY ALL
)
SELECT
    value, messages, delivered, delivery_mean_s,
    d[1] AS delivery_p50_s, d[2] AS delivery_p95_s, d[3] AS delivery_p99_s
FROM grouped
ORDER BY delivery_p95_s DESC NULLS LAST, value NULLS LAST
"""

# $bins equal-width bins from the lowest latency to $upper_s (default: the highest); a
# latency above $upper_s counts in the last bin. Every bin is listed, empty ones with 0.
LATENCY_DISTRIBUTION_SQL = f"""
WITH latencies AS (
    SELECT delivery_latency_s AS x
    FROM ({_MESSAGES_IN_RANGE})
    WHERE delivery_latency_s IS NOT NULL
),
bounds AS (
    SELECT lo, hi, CASE WHEN hi > lo THEN $bins ELSE 1 END AS bins
    FROM (
        SELECT least(min(x), coalesce($upper_s, max(x))) AS lo,
               coalesce($upper_s, max(x)) AS hi
        FROM latencies
    )
    WHERE lo IS NOT NULL
),
counted AS (
    SELECT
        CASE WHEN b.hi > b.lo
             THEN least(floor((x - b.lo) / (b.hi - b.lo) * b.bins), b.bins - 1)::BIGINT
             ELSE 0 END AS bin,
        count(*) AS messages
    FROM latencies, bounds AS b
    GROUP BY bin
)
SELECT
    r.bin,
    b.lo + (b.hi - b.lo) * r.bin / b.bins AS bin_start_s,
    b.lo + (b.hi - b.lo) * (r.bin + 1) / b.bins AS bin_end_s,
    coalesce(c.messages, 0) AS messages
FROM bounds AS b, (SELECT unnest(range(bins)) AS bin FROM bounds) AS r
LEFT JOIN counted AS c ON c.bin = r.bin
ORDER BY r.bin
"""

# Windows starting in [$start, $end) of one dimension value, summed into $bucket_s buckets.
FAILURE_RATE_OVER_TIME_SQL = """
WITH bucketed AS (
    SELECT
        epoch_us(window_start) // ($bucket_s::BIGINT * 1000000) AS bucket,
        sum(delivered) AS delivered,
        sum(failed) AS failed,
        sum(unknown) AS unknown,
        sum(total) AS total
    FROM failure_rates
    WHERE window_start >= $start AND window_start < $end
      AND dimension = $dimension AND dimension_value = $dimension_value
    GROUP BY bucket
)
SELECT
    make_timestamptz(bucket * $bucket_s::BIGINT * 1000000) AS window_start,
    make_timestamptz((bucket + 1) * $bucket_s::BIGINT * 1000000) AS window_end,
    $dimension AS dimension,
    $dimension_value AS dimension_value,
    delivered::BIGINT AS delivered,
    failed::BIGINT AS failed,
    unknown::BIGINT AS unknown,
    total::BIGINT AS total,
    CASE WHEN delivered + failed > 0 THEN failed / (delivered + failed) END AS failure_rate
FROM bucketed
ORDER BY window_start
"""

# {dimension}: an expression from FAILURE_DIMENSIONS; {order}: _BY_FAILED or _BY_RATE.
# Values with at least one failure (and $min_decided delivered + failed, where a rate
# means something). share = the value's part of all failed messages in the selection
# (those without a value included). $limit NULL: no limit.
FAILURES_BY_SQL = f"""
WITH grouped AS (
    SELECT
        {{dimension}} AS value,
        count(*) FILTER (WHERE list_contains($failed_statuses, status)) AS failed,
        count(*) FILTER (WHERE list_contains($delivered_statuses, status)) AS delivered,
        count(*) FILTER (WHERE status = 'unknown') AS unknown,
        count(*) AS messages
    FROM ({_MESSAGES_IN_RANGE})
    GROUP BY ALL
),
shared AS (
    SELECT *, failed / sum(failed) OVER () AS share FROM grouped
)
SELECT
    value, failed, delivered, unknown, messages,
    CASE WHEN $with_rate AND failed + delivered > 0
         THEN failed / (failed + delivered) END AS failure_rate,
    share
FROM shared
WHERE failed > 0
  AND ($keep_null OR value IS NOT NULL)
  AND (NOT $with_rate OR failed + delivered >= $min_decided)
ORDER BY {{order}}
LIMIT $limit
"""
_BY_FAILED = "failed DESC, value NULLS LAST"
_BY_RATE = "failure_rate DESC NULLS LAST, failed DESC, value NULLS LAST"

MESSAGE_TIMELINE_SQL = """
SELECT
    event_time,
    status,
    provider_status,
    error_category,
    error_code,
    received_at,
    device_id,
    sim,
    direction,
    event_id,
    epoch(event_time - lag(event_time) OVER (ORDER BY event_time, received_at, event_id))
        AS gap_s
FROM status_events
WHERE provider = $provider AND message_id = $message_id
  AND ($events_from IS NULL OR event_time >= $events_from)
  AND ($events_to IS NULL OR event_time <= $events_to)
ORDER BY event_time, received_at, event_id
"""

# contains(), not LIKE: '%' and '_' in the text are plain characters. Exact matches first,
# then prefixes, then the rest; newest first within each. Without a time range
# ($start/$end NULL) every message is read: slow on a large store.
SEARCH_MESSAGES_SQL = """
SELECT
    provider, message_id, recipient, recipient_country, status, provider_status,
    error_category, device_id, sim, created_at, last_event_at, delivery_latency_s
FROM messages
WHERE $text <> '' AND (contains(message_id, $text) OR contains(recipient, $text))
  AND ($start IS NULL OR created_at >= $start)
  AND ($end IS NULL OR created_at < $end)
  AND ($provider IS NULL OR provider = $provider)
  AND ($device_id IS NULL OR device_id = $device_id)
  AND ($country IS NULL OR recipient_country = $country)
ORDER BY
    CASE WHEN message_id = $text OR recipient = $text THEN 0
         WHEN starts_with(message_id, $text) OR starts_with(recipient, $text) THEN 1
         ELSE 2 END,
    created_at DESC,
    provider,
    message_id
LIMIT $limit
"""

# Inbound messages have no destination country of their own: Filters.country is ignored.
_INBOUND_IN_RANGE = """
    SELECT * FROM inbound_messages
    WHERE received_at >= $start AND received_at < $end
      AND ($provider IS NULL OR provider = $provider)
      AND ($device_id IS NULL OR device_id = $device_id)
"""

INBOUND_OVER_TIME_SQL = f"""
WITH bucketed AS (
    SELECT
        epoch_us(received_at) // ($bucket_s::BIGINT * 1000000) AS bucket,
        count(*) AS messages,
        count(reply_to_message_id) AS replies
    FROM ({_INBOUND_IN_RANGE})
    GROUP BY bucket
)
SELECT make_timestamptz(bucket * $bucket_s::BIGINT * 1000000) AS bucket_start, messages, replies
FROM bucketed
ORDER BY bucket_start
"""

# Replies received in the range, joined to the outbound message they answer (same
# provider), looked for among messages created from $messages_from (the store prunes by
# created_at; a join alone would read every message); Filters.country applies to that
# message's recipient. Newest first.
REPLIES_SQL = f"""
SELECT
    i.received_at,
    i.provider,
    i.message_id,
    i.sender,
    i.device_id,
    i.sim,
    i.body_length,
    i.reply_to_message_id,
    m.recipient_country,
    m.status AS reply_to_status,
    m.created_at AS reply_to_created_at,
    m.delivered_at AS reply_to_delivered_at,
    epoch(i.received_at - coalesce(m.delivered_at, m.sent_at, m.created_at)) AS reply_after_s
FROM ({_INBOUND_IN_RANGE}) AS i
JOIN messages AS m
    ON m.provider = i.provider AND m.message_id = i.reply_to_message_id
WHERE i.reply_to_message_id IS NOT NULL
  AND m.created_at <= i.received_at
  AND m.created_at >= $messages_from AND m.created_at < $end
  AND ($country IS NULL OR m.recipient_country = $country)
ORDER BY i.received_at DESC, i.provider, i.message_id
LIMIT $limit
"""

ALERTS_SQL = """
SELECT
    alert_id, rule, dimension, dimension_value, state, started_at, fired_at, resolved_at,
    failure_rate, peak_failure_rate, baseline_rate, total, message
FROM alerts
WHERE $state = 'all' OR state = $state
ORDER BY started_at DESC, alert_id
"""


# Failed messages per raw code: the status code and, where the provider sends one, the
# detail code (Smstools delivery_code_detail). share as in FAILURES_BY_SQL.
FAILURES_BY_CODE_SQL = f"""
WITH grouped AS (
    SELECT provider, provider_status, error_code, error_category, count(*) AS failed
    FROM ({_MESSAGES_IN_RANGE})
    WHERE list_contains($failed_statuses, status)
    GROUP BY ALL
)
SELECT *, failed / sum(failed) OVER () AS share
FROM grouped
ORDER BY failed DESC, provider, provider_status, error_code NULLS FIRST
"""

# The values the sidebar offers: those of messages created in [$start, $end).
DIMENSION_VALUES_SQL = """
SELECT
    list_sort(list_distinct(list(provider))) AS providers,
    list_sort(list_distinct(list(device_id))) AS devices,
    list_sort(list_distinct(list(recipient_country))) AS countries
FROM messages
WHERE created_at >= $start AND created_at < $end
"""

STORE_EXTENT_SQL = """
SELECT
    (SELECT count(*) FROM messages) AS messages,
    (SELECT max(created_at) FROM messages) AS newest_message_at,
    (SELECT count(*) FROM inbound_messages) AS inbound,
    (SELECT max(received_at) FROM inbound_messages) AS newest_inbound_at
"""


# -- KPIs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kpis:
    sent: int  # messages created in the period, whatever their state
    delivered: int
    failed: int
    in_flight: int  # not terminal yet
    unknown: int
    delivery_p50_s: float | None
    delivery_p95_s: float | None
    delivery_p99_s: float | None

    @property
    def delivery_rate(self) -> float | None:
        """delivered / (delivered + failed); None without decided outcomes."""
        decided = self.delivered + self.failed
        return self.delivered / decided if decided else None

    @property
    def failure_rate(self) -> float | None:
        decided = self.delivered + self.failed
        return self.failed / decided if decided else None


EMPTY_KPIS = Kpis(0, 0, 0, 0, 0, None, None, None)


@dataclass(frozen=True)
class KpiComparison:
    current: Kpis
    previous: Kpis  # the period of equal length just before (Filters.previous)

    def delta(self, name: str) -> float | None:
        """current - previous of one Kpis field or property; None if either is None."""
        now, before = getattr(self.current, name), getattr(self.previous, name)
        return None if now is None or before is None else float(now - before)


def kpis(connection: duckdb.DuckDBPyConnection, filters: Filters) -> KpiComparison:
    parameters = {
        **filters.parameters(),
        "previous_start": filters.previous().start,
        "delivered_statuses": DELIVERED_STATUSES,
        "failed_statuses": FAILED_STATUSES,
    }
    found = {True: EMPTY_KPIS, False: EMPTY_KPIS}
    for is_current, *values in connection.execute(KPIS_SQL, parameters).fetchall():
        found[bool(is_current)] = Kpis(*values)
    return KpiComparison(current=found[True], previous=found[False])


# -- latency -------------------------------------------------------------------------------
def latency_over_time(
    connection: duckdb.DuckDBPyConnection, filters: Filters, bucket_s: int
) -> DataFrame:
    """Per bucket of created_at: messages, delivered, p50/p95/p99 of the three latencies."""
    parameters = {**filters.parameters(), "bucket_s": _positive("bucket_s", bucket_s)}
    return connection.execute(LATENCY_OVER_TIME_SQL, parameters).df()


def latency_by(
    connection: duckdb.DuckDBPyConnection, filters: Filters, dimension: str
) -> DataFrame:
    """Delivery latency per value of ``dimension`` (a LATENCY_DIMENSIONS key)."""
    sql = LATENCY_BY_SQL.format(dimension=_allowed(LATENCY_DIMENSIONS, dimension))
    parameters = {**filters.parameters(), "keep_null": dimension not in _WITHOUT_NULLS}
    return connection.execute(sql, parameters).df()


def latency_distribution(
    connection: duckdb.DuckDBPyConnection,
    filters: Filters,
    bins: int = 30,
    upper_s: float | None = None,
) -> DataFrame:
    """Histogram of delivery_latency_s: ``bins`` equal-width bins (bin, bin_start_s,
    bin_end_s, messages); with ``upper_s``, the long tail is folded into the last bin."""
    if not 1 <= bins <= 10_000:
        raise ValueError("bins must be between 1 and 10000")
    if upper_s is not None and upper_s <= 0:
        raise ValueError("upper_s must be positive")
    parameters = {**filters.parameters(), "bins": bins, "upper_s": upper_s}
    return connection.execute(LATENCY_DISTRIBUTION_SQL, parameters).df()


# -- failures ------------------------------------------------------------------------------
def failure_rate_dimension(filters: Filters) -> tuple[str, str]:
    """The failure_rates series that matches the filters.

    Windows are kept per single dimension, so only one filter can apply: the most specific
    set, device before provider before country; none set gives the overall series.
    """
    if filters.device_id is not None:
        return "device", filters.device_id
    if filters.provider is not None:
        return "provider", filters.provider
    if filters.country is not None:
        return "country", filters.country
    return "overall", "all"


def failure_rate_over_time(
    connection: duckdb.DuckDBPyConnection, filters: Filters, bucket_s: int = 60
) -> DataFrame:
    """Outcome counts and failure rate per bucket of the failure_rates windows (by outcome
    time) starting in the range. ``bucket_s`` should be a multiple of the stream's window
    (``failure_window_s``, 60 s by default)."""
    dimension, value = failure_rate_dimension(filters)
    parameters = {
        "start": filters.start,
        "end": filters.end,
        "dimension": dimension,
        "dimension_value": value,
        "bucket_s": _positive("bucket_s", bucket_s),
    }
    return connection.execute(FAILURE_RATE_OVER_TIME_SQL, parameters).df()


def failures_by(
    connection: duckdb.DuckDBPyConnection, filters: Filters, dimension: str
) -> DataFrame:
    """Failed messages per value of ``dimension`` (a FAILURE_DIMENSIONS key), most first.

    Columns: value, failed, delivered, unknown, messages, failure_rate, share of all
    failures. failure_rate is None for error_category and provider_status: only failed
    messages have those values.
    """
    return _failures(connection, filters, dimension, _BY_FAILED, limit=None, min_decided=0)


def top_failing(
    connection: duckdb.DuckDBPyConnection,
    filters: Filters,
    dimension: str,
    limit: int = 10,
    min_decided: int = 20,
) -> DataFrame:
    """The ``limit`` values of ``dimension`` with the highest failure rate, among those
    with at least ``min_decided`` delivered + failed messages (so that one failure out of
    one message does not top the list). For error_category and provider_status, which
    have no rate, the values with the most failures."""
    _positive("limit", limit)
    if min_decided < 0:
        raise ValueError("min_decided must not be negative")
    return _failures(connection, filters, dimension, _BY_RATE, limit, min_decided)


def _failures(
    connection: duckdb.DuckDBPyConnection,
    filters: Filters,
    dimension: str,
    order: str,
    limit: int | None,
    min_decided: int,
) -> DataFrame:
    expression = _allowed(FAILURE_DIMENSIONS, dimension)
    with_rate = dimension not in _WITHOUT_RATE
    sql = FAILURES_BY_SQL.format(dimension=expression, order=order)
    parameters = {
        **filters.parameters(),
        "keep_null": dimension not in _WITHOUT_NULLS,
        "delivered_statuses": DELIVERED_STATUSES,
        "failed_statuses": FAILED_STATUSES,
        "with_rate": with_rate,
        "min_decided": min_decided,
        "limit": limit,
    }
    return connection.execute(sql, parameters).df()


def failures_by_code(connection: duckdb.DuckDBPyConnection, filters: Filters) -> DataFrame:
    """Failed messages per raw code, most first: provider, provider_status, error_code
    (the detail code, None if the provider sent none), error_category, failed, share."""
    parameters = {**filters.parameters(), "failed_statuses": FAILED_STATUSES}
    return connection.execute(FAILURES_BY_CODE_SQL, parameters).df()


# -- single messages -----------------------------------------------------------------------
def message_timeline(
    connection: duckdb.DuckDBPyConnection,
    provider: str,
    message_id: str,
    created_at: datetime | None = None,
    last_event_at: datetime | None = None,
) -> DataFrame:
    """The message's status events in event-time order; gap_s = seconds since the previous
    event (None for the first).

    ``created_at`` and ``last_event_at`` (from its messages row, e.g. a search result)
    let the store read only that part of status_events, which is sorted by event time;
    events up to TIMELINE_SKEW before created_at (a phone's clock) are still found.
    Without them every status event is looked at: slow on a large store.
    """
    parameters = {
        "provider": provider,
        "message_id": message_id,
        "events_from": None if created_at is None else created_at - TIMELINE_SKEW,
        "events_to": last_event_at,
    }
    return connection.execute(MESSAGE_TIMELINE_SQL, parameters).df()


def search_messages(
    connection: duckdb.DuckDBPyConnection,
    text: str,
    limit: int = 50,
    filters: Filters | None = None,
) -> DataFrame:
    """Messages whose message_id or recipient contains ``text``: exact matches first,
    then prefix matches, then the rest, newest first. Blank text finds nothing.

    ``filters`` narrows the search to messages created in its range (and its provider,
    device, country); without it every message is read.
    """
    scope: dict[str, Any] = (
        filters.parameters()
        if filters
        else dict.fromkeys(("start", "end", "provider", "device_id", "country"))
    )
    parameters = {**scope, "text": text.strip(), "limit": _positive("limit", limit)}
    return connection.execute(SEARCH_MESSAGES_SQL, parameters).df()


# -- inbound -------------------------------------------------------------------------------
def inbound_over_time(
    connection: duckdb.DuckDBPyConnection, filters: Filters, bucket_s: int
) -> DataFrame:
    """Incoming SMS per bucket of received_at, and how many of them are replies."""
    parameters = _inbound_parameters(filters)
    parameters["bucket_s"] = _positive("bucket_s", bucket_s)
    return connection.execute(INBOUND_OVER_TIME_SQL, parameters).df()


def replies(
    connection: duckdb.DuckDBPyConnection,
    filters: Filters,
    limit: int = 1000,
    reply_window: timedelta = REPLY_WINDOW,
) -> DataFrame:
    """Incoming SMS in the range answering one of our messages, with the message they
    answer; a message created more than ``reply_window`` before the range is not looked
    for (that keeps the read to the range plus the window)."""
    if reply_window < timedelta(0):
        raise ValueError("reply_window must not be negative")
    parameters = {
        **_inbound_parameters(filters),
        "country": filters.country,
        "messages_from": filters.start - reply_window,
        "limit": _positive("limit", limit),
    }
    return connection.execute(REPLIES_SQL, parameters).df()


def _inbound_parameters(filters: Filters) -> dict[str, Any]:
    return {
        "start": filters.start,
        "end": filters.end,
        "provider": filters.provider,
        "device_id": filters.device_id,
    }


# -- alerts --------------------------------------------------------------------------------
def alerts(connection: duckdb.DuckDBPyConnection, state: AlertState = "all") -> DataFrame:
    """Alert occurrences, newest first; ``state`` 'firing', 'resolved' or 'all'."""
    if state not in ALERT_STATES:
        raise ValueError(f"state must be one of {', '.join(ALERT_STATES)}")
    return connection.execute(ALERTS_SQL, {"state": state}).df()


# -- what the store holds ------------------------------------------------------------------
@dataclass(frozen=True)
class DimensionValues:
    """Distinct values, sorted, for the dashboard's filter choices."""

    providers: list[str]
    devices: list[str]
    countries: list[str]


def dimension_values(
    connection: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> DimensionValues:
    """Providers, devices and destination countries of messages created in [start, end)."""
    row = connection.execute(DIMENSION_VALUES_SQL, {"start": start, "end": end}).fetchone()
    providers, devices, countries = row if row else ([], [], [])
    return DimensionValues(
        providers=list(providers or []),
        devices=list(devices or []),
        countries=list(countries or []),
    )


@dataclass(frozen=True)
class StoreExtent:
    """How much the store holds, whatever the time range: tells an empty store from an
    empty selection. Reads every message: call it only when a selection came back empty."""

    messages: int
    newest_message_at: datetime | None
    inbound: int
    newest_inbound_at: datetime | None

    @property
    def is_empty(self) -> bool:
        return self.messages == 0 and self.inbound == 0


def store_extent(connection: duckdb.DuckDBPyConnection) -> StoreExtent:
    row = connection.execute(STORE_EXTENT_SQL).fetchone()
    assert row is not None  # an aggregate without GROUP BY gives one row
    return StoreExtent(*row)


# -- helpers -------------------------------------------------------------------------------
def _allowed(allowed: dict[str, str], dimension: str) -> str:
    try:
        return allowed[dimension]
    except KeyError:
        raise ValueError(f"unknown dimension {dimension!r}; one of {', '.join(allowed)}") from None


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number")
    return value
