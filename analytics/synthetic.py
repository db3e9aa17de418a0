"""A synthetic analytics store: millions of plausible rows, written as base segments.

For benchmarks and for trying the dashboard on a realistic volume without running the
pipeline. Every relation gets one ``base`` segment (partition 0), written by a DuckDB
``COPY (SELECT … FROM range(N)) TO … (FORMAT parquet, COMPRESSION zstd)`` under a temporary
name and renamed into place (``store.write_atomically``), sorted by the relation's time
column like the compactor's output. The derived relations are computed from the messages
segment just written, so they agree with it: a message's status events, the 60-second
failure-rate windows of its outcome, replies to it.

The mix: 60% SMSGateway24 (50 phones, 2 SIMs each) and 40% Smstools (no device), eight
destination countries, about 90% delivered, 5% failed (more on a few bad phones, SIMs and
countries) with the providers' real codes and error categories, 2% unknown, the rest
still in flight; log-normal queue and delivery latencies with a long tail (1-2% take
minutes, a few per thousand take hours). Pseudo-random values come from ``hash(i, k)``,
so a (messages, seed, end) triple always gives the same rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from analytics.relations import RELATIONS, Relation
from analytics.store import (
    READER_GATE_MS,
    TEMP_SUFFIX,
    SegmentName,
    Store,
    literal,
    write_atomically,
)

WINDOW_S = 60  # failure-rate window, as the stream's default (settings.failure_window_s)

# Parameters: $start_us first created_at (epoch µs), $step_us spacing, $seed. Reads the
# temporary table synthetic_ids (i in range(n)): a table scan runs on every core, range()
# on one. created_at grows with i.
MESSAGES_SQL = """
WITH draws AS (
    SELECT
        i,
        $start_us + i * $step_us AS created_us,
        (hash(i, $seed, 1) % 1000000) / 1e6 AS u_provider,
        (hash(i, $seed, 2) >> 1)::BIGINT AS h_device,
        (hash(i, $seed, 3) % 1000000) / 1e6 AS u_country,
        (hash(i, $seed, 4) >> 1)::BIGINT AS h_number,
        (hash(i, $seed, 5) % 1000000) / 1e6 AS u_outcome,
        (hash(i, $seed, 6) >> 1)::BIGINT AS h_detail,
        ((hash(i, $seed, 7) % 1000000) + 0.5) / 1e6 AS u_z1,
        (hash(i, $seed, 8) % 1000000) / 1e6 AS u_z2,
        ((hash(i, $seed, 9) % 1000000) + 0.5) / 1e6 AS u_z3,
        (hash(i, $seed, 10) % 1000000) / 1e6 AS u_z4,
        (hash(i, $seed, 11) % 1000000) / 1e6 AS u_tail
    FROM synthetic_ids
),
shaped AS (
    SELECT
        *,
        CASE WHEN u_provider < 0.6 THEN 'smsgateway24' ELSE 'smstools' END AS provider,
        sqrt(-2 * ln(u_z1)) * cos(2 * pi() * u_z2) AS z_queue,
        sqrt(-2 * ln(u_z3)) * cos(2 * pi() * u_z4) AS z_delivery,
        CASE
            WHEN u_country < 0.25 THEN 'NL' WHEN u_country < 0.45 THEN 'BE'
            WHEN u_country < 0.60 THEN 'DE' WHEN u_country < 0.70 THEN 'FR'
            WHEN u_country < 0.80 THEN 'GB' WHEN u_country < 0.88 THEN 'BR'
            WHEN u_country < 0.95 THEN 'IN' WHEN u_country < 0.995 THEN 'US'
            ELSE NULL
        END AS recipient_country
    FROM draws
),
devices AS (
    SELECT
        *,
        CASE WHEN provider = 'smsgateway24' THEN (1001 + h_device % 50)::VARCHAR END AS device_id,
        CASE WHEN provider = 'smsgateway24' THEN ((h_device // 50) % 2)::VARCHAR END AS sim
    FROM shaped
),
outcomes AS (
    SELECT
        *,
        -- failure probability: 3.5% base, worse on two phones, one SIM and two countries
        0.035
            + CASE device_id WHEN '1007' THEN 0.20 WHEN '1023' THEN 0.08 ELSE 0 END
            + CASE WHEN device_id = '1042' AND sim = '1' THEN 0.30 ELSE 0 END
            + CASE recipient_country WHEN 'IN' THEN 0.06 WHEN 'BR' THEN 0.03 ELSE 0 END
            + CASE WHEN recipient_country IS NULL THEN 0.5 ELSE 0 END AS p_fail
    FROM devices
),
decided AS (
    SELECT
        *,
        -- outcome 0 delivered, 1 unknown, 2 in flight, 3 failed; then one of its 20 slots
        ((CASE
            WHEN u_outcome < p_fail THEN 3
            WHEN u_outcome < p_fail + 0.02 THEN 1
            WHEN u_outcome < p_fail + 0.045 THEN 2
            ELSE 0
        END * 2 + (provider = 'smstools')::INTEGER) * 20 + h_detail % 20)::INTEGER AS slot
    FROM outcomes
),
-- Each (outcome, provider) has 20 slots, given to its codes by weight.
codes(outcome, provider, weight, status, provider_status, error_category, error_code) AS (
    VALUES
        (0, 'smsgateway24', 20, 'delivered', '7', NULL, NULL),
        (0, 'smstools', 14, 'delivered', '1', NULL, NULL),
        (0, 'smstools', 6, 'read', '1', NULL, NULL),
        (1, 'smsgateway24', 20, 'unknown', '13', 'unmapped', NULL),
        (1, 'smstools', 20, 'unknown', '9', NULL, NULL),
        (2, 'smsgateway24', 4, 'pending', '1', NULL, NULL),
        (2, 'smsgateway24', 4, 'queued', '3', NULL, NULL),
        (2, 'smsgateway24', 4, 'dispatched', '2', NULL, NULL),
        (2, 'smsgateway24', 8, 'sent', '6', NULL, NULL),
        (2, 'smstools', 14, 'sent', '0', NULL, NULL),
        (2, 'smstools', 6, 'buffered', '3', NULL, NULL),
        (3, 'smsgateway24', 6, 'failed', '10', 'device', NULL),
        (3, 'smsgateway24', 2, 'failed', '12', 'device', NULL),
        (3, 'smsgateway24', 1, 'failed', '11', 'device', NULL),
        (3, 'smsgateway24', 2, 'failed', '100', 'device', NULL),
        (3, 'smsgateway24', 3, 'failed', '9', 'gateway', NULL),
        (3, 'smsgateway24', 6, 'undelivered', '8', 'unspecified', NULL),
        (3, 'smstools', 5, 'undelivered', '2', 'unreachable', '11'),
        (3, 'smstools', 3, 'undelivered', '2', 'invalid_number', '10'),
        (3, 'smstools', 2, 'undelivered', '2', 'expired', '14'),
        (3, 'smstools', 2, 'undelivered', '2', 'network', '13'),
        (3, 'smstools', 2, 'undelivered', '2', 'handset', '12'),
        (3, 'smstools', 2, 'rejected', '4', 'blocked', '15'),
        (3, 'smstools', 2, 'rejected', '5', 'account', '2000'),
        (3, 'smstools', 1, 'rejected', '5', 'spam', '4003'),
        (3, 'smstools', 1, 'rejected', '5', 'duplicate', '4006')
),
slots AS (
    SELECT
        c.* EXCLUDE (weight),
        (outcome * 2 + (provider = 'smstools')::INTEGER) * 20
            + row_number() OVER (PARTITION BY outcome, provider
                                 ORDER BY provider_status, error_code, status, r.range) - 1
            AS slot
    FROM codes AS c, range(c.weight) AS r
),
-- The slots as lists, indexed by a message's slot: a one-row cross product keeps the rows
-- in order (a join would not), so no sort is needed.
lookup AS (
    SELECT
        list(status ORDER BY slot) AS statuses,
        list(provider_status ORDER BY slot) AS provider_statuses,
        list(error_category ORDER BY slot) AS error_categories,
        list(error_code ORDER BY slot) AS error_codes
    FROM slots
),
coded AS (
    SELECT
        d.*,
        l.statuses[1 + slot] AS status,
        l.provider_statuses[1 + slot] AS provider_status,
        l.error_categories[1 + slot] AS error_category,
        l.error_codes[1 + slot] AS error_code,
        -- Smstools reports "sent" at creation: no queue. Phones queue for ~2 s.
        CASE WHEN d.provider = 'smstools' THEN 0
             ELSE (1e6 * exp(ln(2) + 0.8 * z_queue)
                   * CASE WHEN u_tail > 0.995 THEN 40 ELSE 1 END)::BIGINT
        END AS queue_us,
        -- ~4 s median; 2% take minutes, 0.3% hours
        (1e6 * exp(ln(4) + 0.9 * z_delivery)
         * CASE WHEN u_tail < 0.003 THEN 900 WHEN u_tail < 0.02 THEN 30 ELSE 1 END)::BIGINT
            AS delivery_us
    FROM decided AS d, lookup AS l
),
timed AS (
    SELECT
        *,
        status IN ('delivered', 'read') AS is_delivered,
        status IN ('undelivered', 'rejected', 'failed') AS is_failed,
        status NOT IN ('pending', 'queued', 'dispatched') AS reached_sent,
        status IN ('delivered', 'read', 'undelivered', 'rejected', 'failed', 'unknown')
            AS is_outcome,
        -- unknown: the report that never came is given up on after 6 hours
        CASE WHEN status = 'unknown' THEN 6 * 3600 * 1000000::BIGINT
             ELSE delivery_us END AS outcome_us,
        (60e6 * exp(1.5 * z_queue))::BIGINT AS read_us
    FROM coded
)
SELECT
    provider,
    (10000000 + i)::VARCHAR AS message_id,
    status,
    provider_status,
    error_category,
    error_code,
    status NOT IN ('pending', 'queued', 'dispatched', 'sent', 'buffered') AS is_terminal,
    device_id,
    sim,
    CASE recipient_country
        WHEN 'NL' THEN '+316' WHEN 'BE' THEN '+324' WHEN 'DE' THEN '+4915'
        WHEN 'FR' THEN '+336' WHEN 'GB' THEN '+447' WHEN 'BR' THEN '+55119'
        WHEN 'IN' THEN '+919' WHEN 'US' THEN '+1202' ELSE '0'
    END || lpad((h_number % 100000000)::VARCHAR, 8, '0') AS recipient,
    recipient_country,
    make_timestamptz(created_us) AS created_at,
    CASE WHEN reached_sent THEN make_timestamptz(created_us + queue_us) END AS sent_at,
    CASE WHEN is_delivered
        THEN make_timestamptz(created_us + queue_us + delivery_us) END AS delivered_at,
    CASE WHEN is_failed
        THEN make_timestamptz(created_us + queue_us + delivery_us) END AS failed_at,
    CASE WHEN status = 'read'
        THEN make_timestamptz(created_us + queue_us + delivery_us + read_us)
    END AS read_at,
    CASE WHEN is_outcome
        THEN make_timestamptz(created_us + queue_us + outcome_us) END AS outcome_at,
    CASE WHEN reached_sent THEN queue_us / 1e6 END AS queue_latency_s,
    CASE WHEN is_delivered THEN delivery_us / 1e6 END AS delivery_latency_s,
    CASE WHEN is_delivered THEN (queue_us + delivery_us) / 1e6 END AS total_latency_s,
    (1
     + CASE WHEN provider = 'smsgateway24' AND status NOT IN ('pending', 'queued')
            THEN 1 ELSE 0 END
     + CASE WHEN is_outcome OR status = 'buffered' THEN 1 ELSE 0 END
     + CASE WHEN status = 'read' THEN 1 ELSE 0 END)::BIGINT AS events,
    make_timestamptz(created_us + CASE
        WHEN status = 'read' THEN queue_us + delivery_us + read_us
        WHEN is_outcome THEN queue_us + outcome_us
        WHEN status = 'buffered' THEN queue_us + delivery_us // 2
        WHEN status = 'dispatched' THEN queue_us // 2
        WHEN reached_sent THEN queue_us
        ELSE 0
    END) AS last_event_at,
    -- Smstools' delivery reports carry the text; as stored by default: no hash, no text
    CASE WHEN provider = 'smstools' THEN (1 + hash(i, $seed, 'length') % 160)::BIGINT
    END AS body_length,
    NULL::VARCHAR AS body_hash,
    NULL::VARCHAR AS body,
    0::INTEGER AS _partition,
    i::BIGINT AS _offset
FROM timed
-- already in this order, but parallel COPY may write row groups out of order without it
ORDER BY created_at
"""

# Parameter: $messages, the messages segment just written. One row per event, as
# MESSAGES_SQL's ``events`` counts them: the first (phones report pending/queued at
# creation, Smstools "submitted", i.e. sent), a phone's dispatched/sent, the outcome (or
# Smstools' buffered), read. _offset: the message's times 4 plus the event's place.
STATUS_EVENTS_SQL = """
WITH m AS (
    SELECT provider, message_id, status, provider_status, error_category, error_code,
           device_id, sim, _offset,
           unnest([
               {'k': 0,
                'status': CASE WHEN provider = 'smstools' THEN 'sent'
                               WHEN status = 'pending' THEN 'pending' ELSE 'queued' END,
                't': created_at},
               {'k': 1,
                'status': CASE WHEN provider = 'smstools' THEN NULL
                               WHEN status = 'dispatched' THEN 'dispatched'
                               WHEN status IN ('pending', 'queued') THEN NULL ELSE 'sent' END,
                't': CASE WHEN status = 'dispatched' THEN last_event_at ELSE sent_at END},
               {'k': 2,
                'status': CASE WHEN status = 'read' THEN 'delivered'
                               WHEN outcome_at IS NOT NULL OR status = 'buffered' THEN status END,
                't': CASE WHEN status = 'buffered' THEN last_event_at ELSE outcome_at END},
               {'k': 3, 'status': CASE WHEN status = 'read' THEN 'read' END, 't': read_at}
           ]) AS e
    FROM read_parquet($messages)
)
SELECT
    provider || ':' || message_id || ':' || e.status AS event_id,
    provider,
    message_id,
    'outbound' AS direction,
    e.status AS status,
    CASE e.status
        WHEN 'pending' THEN '1'
        WHEN 'queued' THEN '3'
        WHEN 'dispatched' THEN '2'
        WHEN 'sent' THEN CASE WHEN provider = 'smstools' THEN '0' ELSE '6' END
        WHEN 'delivered' THEN CASE WHEN provider = 'smstools' THEN '1' ELSE '7' END
        ELSE provider_status
    END AS provider_status,
    true AS provider_status_known,
    CASE WHEN e.k = 2 THEN error_category END AS error_category,
    CASE WHEN e.k = 2 THEN error_code END AS error_code,
    e.t AS event_time,
    e.t + to_microseconds(200000 + (hash(message_id, e.k) % 3000000)::BIGINT) AS received_at,
    device_id,
    sim,
    0::INTEGER AS _partition,
    _offset * 4 + e.k AS _offset
FROM m
WHERE e.status IS NOT NULL
ORDER BY event_time, _offset
"""

# Parameters: $messages, $seed, $unsolicited (count), $start_us, $span_us. About 2% of
# delivered messages get a reply; unsolicited messages arrive uniformly.
INBOUND_SQL = """
WITH replies AS (
    SELECT provider, 'r' || message_id AS message_id, recipient AS sender,
           device_id, sim,
           read_at AS sent_at,
           coalesce(read_at, delivered_at)
               + to_microseconds((hash(message_id, $seed, 'reply') % 600000000)::BIGINT)
               AS received_at,
           message_id AS reply_to_message_id,
           (1 + hash(message_id, $seed, 'length') % 160)::BIGINT AS body_length
    FROM read_parquet($messages)
    WHERE delivered_at IS NOT NULL AND hash(message_id, $seed, 'replies') % 1000 < 20
),
unsolicited AS (
    SELECT CASE WHEN hash(i, $seed, 21) % 10 < 6 THEN 'smsgateway24' ELSE 'smstools' END
               AS provider,
           'u' || (10000000 + i)::VARCHAR AS message_id,
           '+316' || lpad((hash(i, $seed, 22) % 100000000)::VARCHAR, 8, '0') AS sender,
           (1001 + hash(i, $seed, 23) % 50)::VARCHAR AS device_id,
           (hash(i, $seed, 24) % 2)::VARCHAR AS sim,
           NULL::TIMESTAMPTZ AS sent_at,
           make_timestamptz($start_us + (hash(i, $seed, 25) % $span_us)::BIGINT)
               AS received_at,
           NULL AS reply_to_message_id,
           (1 + hash(i, $seed, 26) % 160)::BIGINT AS body_length
    FROM range($unsolicited) AS r(i)
),
inbound AS (
    SELECT * FROM replies
    UNION ALL
    SELECT * FROM unsolicited
)
SELECT
    md5(provider || ':in:' || message_id) AS event_id,
    provider,
    message_id,
    sender,
    NULL::VARCHAR AS recipient,
    CASE WHEN provider = 'smsgateway24' THEN device_id END AS device_id,
    CASE WHEN provider = 'smsgateway24' THEN sim END AS sim,
    received_at,
    sent_at,
    reply_to_message_id,
    body_length,
    NULL::VARCHAR AS body_hash,
    NULL::VARCHAR AS body,
    0::INTEGER AS _partition,
    (row_number() OVER (ORDER BY received_at, message_id) - 1)::BIGINT AS _offset
FROM inbound
ORDER BY received_at, message_id
"""

# Parameters: $messages, $window_s. What the stream's windows hold for these messages
# (streams/windows.py): each outcome counted in the window of outcome_at, under each of
# its dimension values; one source partition.
FAILURE_RATES_SQL = """
WITH outcomes AS (
    SELECT
        epoch_us(outcome_at) // ($window_s * 1000000) AS w,
        (status IN ('delivered', 'read'))::INTEGER AS d,
        (status IN ('undelivered', 'rejected', 'failed'))::INTEGER AS f,
        (status = 'unknown')::INTEGER AS u,
        provider, device_id, sim, recipient_country, error_category
    FROM read_parquet($messages)
    WHERE outcome_at IS NOT NULL
),
counted AS (
    SELECT w, 'overall' AS dimension, 'all' AS dimension_value,
           sum(d) AS delivered, sum(f) AS failed, sum(u) AS unknown
    FROM outcomes GROUP BY ALL
    UNION ALL
    SELECT w, 'provider', provider, sum(d), sum(f), sum(u) FROM outcomes GROUP BY ALL
    UNION ALL
    SELECT w, 'device', device_id, sum(d), sum(f), sum(u)
    FROM outcomes WHERE device_id IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT w, 'sim', device_id || '/' || sim, sum(d), sum(f), sum(u)
    FROM outcomes WHERE device_id IS NOT NULL AND sim IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT w, 'country', coalesce(recipient_country, 'unknown'), sum(d), sum(f), sum(u)
    FROM outcomes GROUP BY ALL
    UNION ALL
    SELECT w, 'error_category', coalesce(error_category, 'unspecified'), 0, sum(f), 0
    FROM outcomes WHERE f = 1 GROUP BY ALL
)
SELECT
    make_timestamptz(w * $window_s * 1000000) AS window_start,
    make_timestamptz((w + 1) * $window_s * 1000000) AS window_end,
    dimension,
    dimension_value,
    0::BIGINT AS partition,
    delivered::BIGINT AS delivered,
    failed::BIGINT AS failed,
    unknown::BIGINT AS unknown,
    (delivered + failed + unknown)::BIGINT AS total,
    CASE WHEN dimension = 'error_category' OR delivered + failed = 0 THEN NULL
         ELSE failed / (delivered + failed) END AS failure_rate,
    0::INTEGER AS _partition,
    (row_number() OVER (ORDER BY window_start, dimension, dimension_value) - 1)::BIGINT
        AS _offset
FROM counted
ORDER BY window_start, dimension, dimension_value
"""

# Parameters: $alerts (count), $seed, $start_us, $span_us. A failure-rate alert every
# half day or so; the newest two still firing.
ALERTS_SQL = """
WITH raised AS (
    SELECT
        i,
        ($start_us + (2 * i + 1) * $span_us // (2 * $alerts)
            + (hash(i, $seed, 31) % 3600000000)::BIGINT)::BIGINT AS started_us,
        [
            {'d': 'device', 'v': '1007'}, {'d': 'device', 'v': '1023'},
            {'d': 'sim', 'v': '1042/1'}, {'d': 'country', 'v': 'IN'},
            {'d': 'provider', 'v': 'smstools'}
        ][1 + (hash(i, $seed, 32) % 5)::BIGINT] AS target,
        0.15 + (hash(i, $seed, 33) % 300) / 1000 AS failure_rate,
        (5 + hash(i, $seed, 34) % 600)::BIGINT * 60000000 AS duration_us
    FROM range($alerts) AS r(i)
)
SELECT
    'alert-' || lpad(i::VARCHAR, 8, '0') AS alert_id,
    'failure_rate_spike' AS rule,
    target.d AS dimension,
    target.v AS dimension_value,
    CASE WHEN i >= $alerts - 2 THEN 'firing' ELSE 'resolved' END AS state,
    make_timestamptz(started_us) AS started_at,
    CASE WHEN i < $alerts - 2
        THEN make_timestamptz(started_us + duration_us) END AS resolved_at,
    failure_rate,
    0.04::DOUBLE AS baseline_rate,
    (100 + hash(i, $seed, 35) % 5000)::BIGINT AS total,
    format('failure rate of {} {} at {:.1f}%, baseline 4.0%',
           target.d, target.v, failure_rate * 100) AS message,
    make_timestamptz(started_us + 180000000) AS fired_at,
    failure_rate AS peak_failure_rate,
    0::INTEGER AS _partition,
    i::BIGINT AS _offset
FROM raised
ORDER BY started_at
"""


@dataclass(frozen=True)
class SyntheticStore:
    data_dir: Path
    start: datetime  # the first message's created_at
    end: datetime  # after the last message's created_at
    rows: dict[str, int]  # relation name -> rows written
    files: dict[str, Path]  # relation name -> its base segment


def generate(
    data_dir: Path,
    messages: int,
    *,
    end: datetime | None = None,
    days: float = 30.0,
    seed: int = 0,
    threads: int | None = None,
) -> SyntheticStore:
    """Write base segments of ``messages`` messages created over ``days`` up to ``end``.

    ``end`` defaults to now (whole seconds). Existing segments of the store are left alone:
    use an empty ``data_dir``.
    """
    if messages < 1:
        raise ValueError("messages must be at least 1")
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    span_us = int(days * 86_400 * 1_000_000)
    step_us = max(span_us // messages, 1)
    start = end - timedelta(microseconds=step_us * messages)
    start_us = _epoch_us(start)

    store = Store(data_dir)
    store.ensure()
    written: dict[str, Path] = {}
    counts: dict[str, int] = {}
    # Sorts may spill: into the store's folder (removed below), not the working directory.
    spill = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=store.root))
    try:
        with duckdb.connect() as connection:
            connection.execute("SET temp_directory = ?", [str(spill)])
            if threads is not None:
                connection.execute("SET threads = ?", [threads])
            connection.execute(
                "CREATE TEMPORARY TABLE synthetic_ids AS SELECT range AS i FROM range(?)",
                [messages],
            )

            def write(
                name: str, sql: str, parameters: dict[str, Any], last: int | None = None
            ) -> Path:
                path, rows = _copy_base(connection, store, RELATIONS[name], sql, parameters, last)
                written[name], counts[name] = path, rows
                return path

            base = {"seed": seed, "start_us": start_us}
            messages_file = write("messages", MESSAGES_SQL, {**base, "step_us": step_us})
            source = {"messages": str(messages_file)}
            write("status_events", STATUS_EVENTS_SQL, source, last=4 * messages - 1)
            inbound = {**source, **base, "unsolicited": max(messages // 100, 1), "span_us": span_us}
            write("inbound_messages", INBOUND_SQL, inbound)
            write("failure_rates", FAILURE_RATES_SQL, {**source, "window_s": WINDOW_S})
            alerts = max(int(days * 2), 3)
            write("alerts", ALERTS_SQL, {**base, "alerts": alerts, "span_us": span_us})
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    return SyntheticStore(data_dir, start, end, counts, written)


def _copy_base(
    connection: duckdb.DuckDBPyConnection,
    store: Store,
    relation: Relation,
    sql: str,
    parameters: dict[str, Any],
    last: int | None,
) -> tuple[Path, int]:
    """COPY the query's rows into a new base segment; its path and row count.

    A base segment's name holds its last offset, known once the rows are counted: the rows
    are written under a hidden temporary name first (removed on failure, like any
    ``*.tmp``), then moved into place by ``write_atomically``. ``last`` defaults to
    rows - 1, for offsets numbered from 0.
    """
    directory = store.directory(relation)
    staged = directory / f".synthetic-{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}"
    try:
        # The path is ours, never user input; COPY takes no parameter for it.
        result = connection.execute(
            f"COPY ({sql}) TO {literal(str(staged))} (FORMAT parquet, COMPRESSION zstd)",
            parameters,
        ).fetchone()
        rows = int(result[0]) if result else 0
        # Visible at once to live readers too: older than their compactor-output gate.
        created_ms = int(time.time() * 1000) - READER_GATE_MS - 1000
        last = rows - 1 if last is None else last
        name = SegmentName(0, "base", 0, max(last, 0), created_ms)
        final = directory / name.filename
        write_atomically(final, lambda temp: os.replace(staged, temp))
    finally:
        staged.unlink(missing_ok=True)
    return final, rows


def _epoch_us(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
