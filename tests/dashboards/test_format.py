"""How the dashboard words numbers and times, and how it buckets a range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd  # type: ignore[import-untyped]
import pytest

from dashboards import filters, format
from smsradar.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (0.0, "0.0 s"), (7.04, "7.0 s"), (59.9, "59.9 s"), (150, "2.5 min"),
     (4320, "1.2 h"), (-1.0, "-1.0 s")],
)  # fmt: skip
def test_seconds(value: float | None, text: str) -> None:
    assert format.seconds(value) == text


def test_counts_rates_and_deltas() -> None:
    assert format.count(12345) == "12,345"
    assert format.rate(4 / 7) == "57.1%"
    assert format.rate(None) == "–"
    assert format.count_delta(7.0) == "+7"
    assert format.count_delta(-1200.0) == "-1,200"
    assert format.count_delta(None) is None
    assert format.rate_delta(4 / 7 - 0.5) == "+7.1 pp"
    assert format.seconds_delta(10.5) == "+10.5 s"
    assert format.seconds_delta(-90.0) == "-1.5 min"


def test_durations_and_buckets() -> None:
    assert format.duration(timedelta(minutes=15)) == "15 minutes"
    assert format.duration(timedelta(hours=1)) == "1 hour"
    assert format.duration(timedelta(days=7)) == "7 days"
    assert format.bucket(60) == "minute"
    assert format.bucket(300) == "5 minutes"
    assert format.bucket(3600) == "hour"
    # at most 120 buckets, each a multiple of the stream's 60 s window
    assert filters.bucket_seconds(timedelta(minutes=15)) == 60
    assert filters.bucket_seconds(timedelta(hours=1)) == 60
    assert filters.bucket_seconds(timedelta(hours=6)) == 300
    assert filters.bucket_seconds(timedelta(days=1)) == 900
    assert filters.bucket_seconds(timedelta(days=7)) == 3 * 3600
    assert filters.bucket_seconds(timedelta(days=30)) == 6 * 3600
    assert filters.bucket_seconds(timedelta(days=365)) == 86400
    assert all(size % 60 == 0 for size in filters.BUCKETS_S)


def test_times_in_the_display_zone() -> None:
    brussels = ZoneInfo("Europe/Brussels")
    at = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert format.local_time(at, brussels) == "2025-07-01 14:00:00"  # summer time
    frame = pd.DataFrame(
        {"at": pd.to_datetime([at, at + timedelta(days=200)], utc=True), "n": [1, 2]}
    )
    local = format.local_times(frame, brussels)
    assert list(local["at"]) == [pd.Timestamp("2025-07-01 14:00"), pd.Timestamp("2026-01-17 13:00")]
    assert local["at"].dt.tz is None and list(local["n"]) == [1, 2]
    assert frame["at"].dt.tz is not None  # the input is left alone


def test_display_timezone_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSRADAR_DISPLAY_TIMEZONE", raising=False)
    assert load_settings().display_timezone == "UTC"
    monkeypatch.setenv("SMSRADAR_DISPLAY_TIMEZONE", "America/Sao_Paulo")
    assert load_settings().display_timezone == "America/Sao_Paulo"
    monkeypatch.setenv("SMSRADAR_DISPLAY_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="SMSRADAR_DISPLAY_TIMEZONE"):
        load_settings()
