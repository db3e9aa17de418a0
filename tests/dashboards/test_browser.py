"""The dashboard in a real browser, filled by the real pipeline: ``smsradar up --simulate``
on free ports, every page opened in headless Chromium (Debian's package, driven by
playwright) and saved as a screenshot under test-output/dashboard/.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsradar.broker import free_port
from tests.dashboards import browser
from tests.support.processes import ManagedProcess, smsradar_argv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTPUT = Path(__file__).parents[2] / "test-output" / "dashboard"
# What each page must show once it has data, besides its title.
SHOWN = {
    "overview": "Delivery rate",
    "latency": "Distribution of delivery latency",
    "failures": "By error category",
    "messages": "Message id or recipient number",
    "inbound": "Incoming messages",
    "alerts": "All alerts",
    "sql": "Relations:",
}


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    """``smsradar up --simulate`` with its own ports and store; its URL once ready."""
    port = free_port()
    up = ManagedProcess(
        smsradar_argv(
            "up",
            "--simulate",
            "--rate",
            "40",
            "--receiver-port",
            str(free_port()),
            "--dashboard-port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ),
        {
            "SMSRADAR_EMBEDDED_BROKER_PORT": str(free_port()),
            "SMSRADAR_LOG_FORMAT": "text",
            "SMSRADAR_DASHBOARD_REFRESH_S": "5",
        },
        tmp_path / "up.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        up.wait_until(lambda: f"dashboard: {url}" in up.output(), 120, "dashboard URL printed")
        yield url
    finally:
        code = up.stop(signal.SIGINT, timeout_s=60)
    assert code == 0, up.output()[-3000:]


def test_every_page_renders_live_data_without_errors(dashboard_url: str) -> None:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    with browser.chromium() as chromium:
        overview = browser.open_page(chromium, dashboard_url, "overview")
        # the simulator's traffic reaches the page (it refreshes itself every 5 s)
        overview.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
                   m.innerText.startsWith('Messages sent') &&
                   /\\n[1-9][0-9,]*\\n/.test(m.innerText + '\\n'))""",
            timeout=120_000,
        )
        overview.wait_for_timeout(6000)  # one more refresh: latencies and rates too
        sent = int(browser.metric_value(overview, "Messages sent").replace(",", ""))
        assert sent > 0
        assert "Last updated" in overview.inner_text("body")
        assert browser.exceptions(overview) == []
        browser.screenshot(overview, OUTPUT / "dashboard-overview.png")
        overview.close()

        for name in browser.PAGES:
            if name == "overview":
                continue
            page = browser.open_page(chromium, dashboard_url, name)
            assert browser.exceptions(page) == [], name
            assert SHOWN[name] in page.inner_text("body"), name
            browser.screenshot(page, OUTPUT / f"dashboard-{name}.png")
            assert browser.exceptions(page) == [], name
            page.close()
        assert sorted(p.name for p in OUTPUT.glob("dashboard-*.png")) == sorted(
            f"dashboard-{name}.png" for name in browser.PAGES
        )


def test_a_filter_chosen_on_one_page_holds_on_the_next(dashboard_url: str) -> None:
    with browser.chromium() as chromium:
        page = browser.open_page(chromium, dashboard_url, "overview")
        browser.choose(page, "Provider", "smstools")
        page.wait_for_function(
            "() => document.body.innerText.includes('provider smstools')", timeout=30_000
        )
        page.locator('[data-testid="stSidebarNav"] a', has_text="Failures").click()
        browser.wait_rendered(page, "Failures")
        assert "provider smstools" in page.inner_text("body")
        assert page.get_by_role("combobox", name="Provider").input_value() == "smstools"
        assert browser.exceptions(page) == []
