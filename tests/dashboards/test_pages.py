"""Every page of the dashboard, run by Streamlit's AppTest over the seeded store
(tests/support/seeded_store.py): the numbers, labels and tables a user sees.

The expected numbers are those worked out in tests/analytics/test_queries.py for the
same rows; here they must also come out formatted, labelled and in the right place.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest

from tests.dashboards.conftest import OpenPage, axis_titles, chart_specs, metrics, table, texts
from tests.support.seeded_store import SGW

INJECTION = "'; drop table messages; --"


# -- Overview ------------------------------------------------------------------------------
def test_overview_shows_the_period_against_the_previous_one(open_page: OpenPage) -> None:
    app = open_page()
    assert texts(app.title) == ["Overview"]
    assert metrics(app) == {
        "Messages sent": ("9", "+7"),
        "Delivered": ("4", "+3"),
        "Failed": ("3", "+2"),
        "In flight": ("1", "+1"),
        "Delivery rate": ("57.1%", "+7.1 pp"),  # 4/7 against 1/2
        "Delivery latency p50": ("7.0 s", "-1.0 s"),
        "Delivery latency p95": ("18.5 s", "+10.5 s"),
        "Delivery latency p99": ("19.7 s", "+11.7 s"),
    }
    # firing alerts on top, newest first; the pending and resolved ones are not
    assert texts(app.error) == [
        "**Alert firing** since 2025-01-01 12:10:00: alert a1",
        "**Alert firing** since 2024-12-31 12:00:00: alert a4",
    ]
    captions = " ".join(texts(app.caption))
    assert "Changes against the previous 1 hour (2025-01-01 11:00:00 – 2025-01-01 12:00:00)" in (
        captions
    )
    assert "Unknown outcomes (no report available): 1." in captions
    specs = chart_specs(app)
    assert [axis_titles(spec) for spec in specs] == [
        {"Time (UTC)", "Messages per minute"},
        {"Time (UTC)", "Failure rate (%)"},
        {"Time (UTC)", "Latency (s, log scale)"},
    ]


def test_sidebar_filters_narrow_every_number(open_page: OpenPage) -> None:
    app = open_page(state={"filter.provider": SGW})
    shown = metrics(app)
    assert shown["Messages sent"] == ("6", "+4")
    assert (shown["Delivered"][0], shown["Failed"][0], shown["In flight"][0]) == ("3", "2", "1")
    assert shown["Delivery latency p50"][0] == "10.0 s"  # of 4, 10, 20
    assert "provider smsgateway24" in texts(app.caption)[0]


def test_filters_carry_across_pages(open_page: OpenPage) -> None:
    app = open_page()
    # the sidebar offers what the store holds
    assert app.selectbox(key="filter.device").options == ["All devices", "d1", "d2"]
    assert app.selectbox(key="filter.country").options == ["All countries", "BE", "DE", "NL"]
    app.selectbox(key="filter.device").set_value("d2").run()
    assert metrics(app)["Messages sent"][0] == "3"
    app.switch_page("views/failures.py").run()
    assert not app.exception
    assert texts(app.title) == ["Failures"]
    shown = metrics(app)
    assert (shown["Failure rate"][0], shown["Failed"][0], shown["Delivered"][0]) == (
        "50.0%",
        "1",
        "1",
    )
    assert "device d2" in texts(app.caption)[0]
    app.switch_page("views/inbound.py").run()
    assert metrics(app)["Incoming messages"][0] == "1"  # in3, from phone d2


def test_last_updated_and_auto_refresh_are_shown(open_page: OpenPage) -> None:
    line = texts(open_page().caption)[0]
    assert line.startswith("Last updated ") and "(UTC) · refreshes every 10 seconds" in line
    assert "2025-01-01 12:00:00 – 2025-01-01 13:00:00 · all traffic" in line
    off = texts(open_page(state={"refresh.every": 0}).caption)[0]
    assert "auto-refresh off" in off
    slower = open_page(DASHBOARD_REFRESH_S="30")
    assert "refreshes every 30 seconds" in texts(slower.caption)[0]


# -- Latency -------------------------------------------------------------------------------
def test_latency_page(open_page: OpenPage) -> None:
    app = open_page("latency")
    assert texts(app.title) == ["Latency"]
    assert texts(app.subheader) == [
        "Percentiles over time",
        "Queue vs delivery vs total",
        "Distribution of delivery latency",
        "Delivery latency by …",
    ]
    by_provider = table(app, 0)
    assert [(r["value"], r["messages"], r["delivered"]) for r in by_provider] == [
        (SGW, 6, 3),
        ("smstools", 3, 1),
    ]
    assert [r["delivery_p95_s"] for r in by_provider] == pytest.approx([19.0, 2.0])
    titles = [axis_titles(spec) for spec in chart_specs(app)]
    assert titles[0] == {"Time (UTC)", "Delivery latency (s, log scale)"}
    assert titles[1] == {"Time (UTC)", "p50 latency (s, log scale)"}
    assert titles[2] == {"Delivery latency (s)", "Messages"}
    assert "slower than p95 (18.5 s)" in " ".join(texts(app.caption))

    devices = open_page("latency", state={"latency.dimension": "device_id"})
    rows = table(devices, 0)
    assert [r["value"] for r in rows] == ["d2", "d1"]  # worst p95 first
    assert [r["delivery_p95_s"] for r in rows] == pytest.approx([20.0, 9.7])
    queue = open_page("latency", state={"latency.kind": "queue"})
    assert axis_titles(chart_specs(queue)[0]) == {"Time (UTC)", "Queue latency (s, log scale)"}


# -- Failures ------------------------------------------------------------------------------
def test_failures_page(open_page: OpenPage) -> None:
    app = open_page("failures", state={"failures.min_decided": 1})
    assert metrics(app) == {
        "Failure rate": ("42.9%", ""),
        "Failed": ("3", ""),
        "Delivered": ("4", ""),
        "Unknown outcome": ("1", ""),
    }
    categories = table(app, 0)
    assert [(r["value"], r["failed"]) for r in categories] == [("device", 2), ("unreachable", 1)]
    assert [r["share"] for r in categories] == pytest.approx([2 / 3, 1 / 3])
    codes = table(app, 1)
    assert [(r["provider"], r["code"], r["meaning"], r["failed"]) for r in codes] == [
        (SGW, "10", "Not sent: no service", 1),
        (SGW, "12", "Not sent: radio off", 1),
        (
            "smstools",
            "2 / 11",
            "Not delivered (out of coverage, network problem, abroad): "
            "Recipient temporarily out of the operator's coverage",
            1,
        ),
    ]
    # top failing devices, SIMs, countries (at least one decided message)
    assert [r["value"] for r in table(app, 2)] == ["d2", "d1"]
    assert [r["failure_rate"] for r in table(app, 2)] == pytest.approx([0.5, 1 / 3])
    assert [r["value"] for r in table(app, 3)] == ["d1/0", "d2/0"]
    assert [r["value"] for r in table(app, 4)] == ["BE", "DE", "NL"]
    assert [r["decided"] for r in table(app, 4)] == [2, 2, 3]
    # the rate chart, and the alert periods in the range below it: a1 (firing), a2
    # (resolved), a4 (firing since the day before); a3 is pending, not an alert period
    specs = chart_specs(app)
    assert axis_titles(specs[0]) == {"Time (UTC)", "Failure rate (%)"}
    assert axis_titles(specs[1]) == {"Time (UTC)", "Alerts"}
    assert "the 3 alert period(s) in the range" in " ".join(texts(app.caption))


def test_top_failing_needs_enough_messages(open_page: OpenPage) -> None:
    app = open_page("failures")  # default: at least 20 delivered + failed
    assert len(app.dataframe) == 2  # categories and codes only
    assert texts(app.caption).count("None with failures and at least 20 decided messages.") == 3


# -- Messages ------------------------------------------------------------------------------
def test_messages_search_and_timeline(open_page: OpenPage) -> None:
    app = open_page("messages", state={"messages.search": "+3162222220"})
    found = table(app, 0)
    assert [r["message_id"] for r in found] == ["6", "10", "1"]  # newest first
    assert [r["status"] for r in found] == ["queued", "failed", "delivered"]
    app.selectbox(key="messages.chosen").set_value(f"{SGW}:1").run()
    assert "Message 1 (smsgateway24)" in texts(app.subheader)
    events = table(app, 1)
    assert [r["status"] for r in events] == ["queued", "sent", "delivered"]
    assert [r["gap"] for r in events] == [None, "2.0 s", "4.0 s"]
    assert [r["provider_status"] for r in events] == ["3", "6", "7"]
    assert [r["meaning"] for r in events] == [
        "Queued for sending",
        "Sent by the phone",
        "Delivered",
    ]
    assert events[0]["event_time"] == pd.Timestamp("2025-01-01 12:00:00")


def test_messages_page_before_a_search(open_page: OpenPage) -> None:
    app = open_page("messages")
    assert "Type a message id or part of a recipient's number" in texts(app.info)[0]
    assert len(app.dataframe) == 0


# -- Inbound -------------------------------------------------------------------------------
def test_inbound_page(open_page: OpenPage) -> None:
    app = open_page("inbound")
    assert metrics(app) == {
        "Incoming messages": ("6", ""),
        "Replies": ("5", ""),
        "Replies matched": ("2", ""),
    }
    replies = table(app, 0)
    assert [r["reply_to_message_id"] for r in replies] == ["a3", "1"]
    assert [r["reply_to_status"] for r in replies] == ["read", "delivered"]
    assert [r["reply_after_s"] for r in replies] == pytest.approx([298.0, 294.0])
    assert axis_titles(chart_specs(app)[0]) == {"Time (UTC)", "Incoming messages per minute"}


# -- Alerts --------------------------------------------------------------------------------
def test_alerts_page(open_page: OpenPage) -> None:
    app = open_page("alerts")
    assert metrics(app) == {
        "Firing now": ("2", ""),
        "Resolved": ("1", ""),
        "All alerts": ("4", ""),
    }
    rows = table(app, 0)
    assert [r["message"] for r in rows] == ["alert a3", "alert a1", "alert a2", "alert a4"]
    assert [r["failure_rate"] for r in rows] == [0.5] * 4
    assert rows[2]["resolved_at"] == pd.Timestamp("2025-01-01 13:00:00")
    firing = open_page("alerts", state={"alerts.state": "firing"})
    assert [r["message"] for r in table(firing, 0)] == ["alert a1", "alert a4"]


# -- SQL -----------------------------------------------------------------------------------
def test_sql_console_runs_a_query_and_offers_csv(open_page: OpenPage) -> None:
    query = "SELECT status, count(*) AS n FROM messages GROUP BY ALL ORDER BY status"
    app = open_page("sql", state={"sql.query": query})
    assert "auto-refresh off · the sidebar's filters do not apply here" in texts(app.caption)[0]
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert table(app, 0) == [
        {"status": "delivered", "n": 7},
        {"status": "failed", "n": 3},
        {"status": "queued", "n": 1},
        {"status": "read", "n": 1},
        {"status": "undelivered", "n": 1},
        {"status": "unknown", "n": 1},
    ]
    assert "6 rows." in texts(app.caption)
    (download,) = app.get("download_button")
    assert download.proto.label == "Download CSV"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("DROP VIEW messages", "read-only: DROP statements are not allowed, only SELECT"),
        ("DELETE FROM messages", "read-only: DELETE statements are not allowed, only SELECT"),
        ("SELECT 1; DROP VIEW messages", "expected one SQL statement, got 2"),
        ("SELECT * FROM no_such_relation", "Table with name no_such_relation does not exist"),
    ],
)
def test_sql_console_refuses_writes_and_shows_errors(
    open_page: OpenPage, query: str, error: str
) -> None:
    app = open_page("sql", state={"sql.query": query})
    app.button[0].click().run()
    assert not app.exception
    (shown,) = texts(app.error)
    assert shown.startswith("Query refused or failed: ") and error in shown
    assert len(app.dataframe) == 0
    # nothing was dropped or deleted
    app.text_area(key="sql.query").set_value("SELECT count(*) AS n FROM messages")
    app.button[0].click().run()
    assert table(app, 0) == [{"n": 14}]


# -- safety --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["filter.provider", "filter.device", "filter.country"])
def test_filter_values_are_data_not_sql(open_page: OpenPage, key: str) -> None:
    """A value that would end the SQL string and drop a table only matches nothing."""
    app = open_page(state={key: INJECTION})
    assert metrics(app)["Messages sent"] == ("0", "+0")
    (said,) = texts(app.info)
    assert "No messages in the selected time range and filters" in said
    assert "The store holds 14 outbound and 7 incoming messages" in said  # nothing dropped
    # the value is offered back as a plain choice
    assert INJECTION in app.selectbox(key=key).options
    for page in ("latency", "failures", "inbound", "messages"):
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, page
    app.selectbox(key=key).set_value(None).run()
    app.switch_page("views/overview.py").run()
    assert metrics(app)["Messages sent"][0] == "9"


def test_search_text_is_data_not_sql(open_page: OpenPage) -> None:
    app = open_page("messages", state={"messages.search": INJECTION})
    assert texts(app.warning) == [f"No message id or recipient contains “{INJECTION}”."]
    app.text_input(key="messages.search").set_value("a5").run()
    assert [r["message_id"] for r in table(app, 0)] == ["a5"]


# -- empty states and settings -------------------------------------------------------------
@pytest.mark.parametrize(
    ("page", "said"),
    [
        ("overview", "No data yet"),
        ("latency", "No data yet"),
        ("failures", "No data yet"),
        ("inbound", "No data yet"),
        ("alerts", "No alerts recorded"),
    ],
)
def test_an_empty_store_says_how_to_get_data_in(
    open_page: OpenPage, tmp_path: Path, page: str, said: str
) -> None:
    app = open_page(page, data_dir=tmp_path, state={"filter.range": "Last hour"})
    (info,) = texts(app.info)
    assert said in info
    assert "smsradar simulate --url http://127.0.0.1:8080" in info
    if page != "alerts":
        assert "make demo" in info and "/webhooks/smstools" in info
    else:
        assert "--spike device=" in info


def test_an_empty_store_with_a_token_says_to_add_it(open_page: OpenPage, tmp_path: Path) -> None:
    app = open_page(data_dir=tmp_path, WEBHOOK_TOKEN="s3cret")
    (info,) = texts(app.info)
    assert "?token=" in info and "s3cret" not in info


def test_times_are_shown_in_the_display_zone(open_page: OpenPage) -> None:
    # The custom range is read in the display zone: 13:00 in Brussels is 12:00 UTC.
    brussels = {
        "filter.start": datetime(2025, 1, 1, 13, 0),
        "filter.end": datetime(2025, 1, 1, 14, 0),
        "messages.search": "+3162222220",
        "messages.chosen": f"{SGW}:1",
    }
    app = open_page("messages", state=brussels, DISPLAY_TIMEZONE="Europe/Brussels")
    assert "(Europe/Brussels)" in texts(app.caption)[0]
    assert "2025-01-01 13:00:00 – 2025-01-01 14:00:00" in texts(app.caption)[0]
    assert [r["message_id"] for r in table(app, 0)] == ["6", "10", "1"]
    assert table(app, 0)[2]["created_at"] == pd.Timestamp("2025-01-01 13:00:00")
    assert table(app, 1)[0]["event_time"] == pd.Timestamp("2025-01-01 13:00:00")
    app.switch_page("views/overview.py").run()
    assert metrics(app)["Messages sent"][0] == "9"
    assert texts(app.error)[0] == "**Alert firing** since 2025-01-01 13:10:00: alert a1"
    assert {"Time (Europe/Brussels)", "Failure rate (%)"} == axis_titles(chart_specs(app)[1])


def test_a_bad_setting_is_shown_plainly(
    open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSRADAR_DISPLAY_TIMEZONE", "Mars/Olympus")
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.conftest import APP, TIMEOUT_S

    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    assert not app.exception
    (error,) = texts(app.error)
    assert "invalid setting SMSRADAR_DISPLAY_TIMEZONE" in error and "Mars/Olympus" in error
