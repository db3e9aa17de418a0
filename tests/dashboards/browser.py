"""Drive the running dashboard in headless Chromium (Debian's package, via playwright).

Used by the browser test, and by hand to refresh the README's screenshots:

    python -m tests.dashboards.browser http://127.0.0.1:8501 docs/ overview failures \\
        --range "Last 15 minutes"
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# url path -> the page's title, as app.py registers them
PAGES = {
    "overview": "Overview",
    "latency": "Latency",
    "failures": "Failures",
    "messages": "Messages",
    "inbound": "Inbound",
    "alerts": "Alerts",
    "sql": "SQL",
}
EXCEPTION = '[data-testid="stException"]'


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise AssertionError(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(`make browser` does: apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, base_url: str, path: str = "") -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # The default page (Overview) lives at the root.
    page.goto(f"{base_url}/{'' if path == 'overview' else path}")
    wait_rendered(page, PAGES.get(path or "overview", "Overview"))
    return page


def wait_rendered(page: Page, title: str, timeout_ms: float = 30_000) -> None:
    """The page's title is drawn and Streamlit is no longer running the script."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout_ms,
    )
    # Altair charts are drawn after the script finishes: let them settle.
    page.wait_for_timeout(1500)


def exceptions(page: Page) -> list[str]:
    return [box.inner_text() for box in page.locator(EXCEPTION).all()]


def metric_value(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def screenshot(page: Page, path: Path, max_height: int = 4000) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as
    tall as that block first (a full-page screenshot alone stops at the window)."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0"
    )
    size = page.viewport_size or {"width": 1400, "height": 1000}
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), max_height)})
    page.wait_for_timeout(1000)  # charts re-lay out to the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=re.compile(f"^{re.escape(option)}$")).click()


def main(base_url: str, out: str, *names: str, time_range: str | None = None) -> None:
    with chromium() as browser:
        page = open_page(browser, base_url, "overview")
        if time_range:
            choose(page, "Time range", time_range)
        for name in names or tuple(PAGES):
            # Within one session, so the sidebar's choices hold on every page.
            page.locator('[data-testid="stSidebarNav"] a', has_text=PAGES[name]).click()
            wait_rendered(page, PAGES[name])
            print(screenshot(page, Path(out) / f"dashboard-{name}.png"))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen = None
    if "--range" in arguments:
        at = arguments.index("--range")
        chosen = arguments[at + 1]
        del arguments[at : at + 2]
    main(*arguments, time_range=chosen)
