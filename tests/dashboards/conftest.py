"""Fixtures for the dashboard's AppTest tests: the app over a seeded or an empty store."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.seeded_store import HOUR, T0, seed

APP = Path(__file__).parents[2] / "dashboards" / "app.py"
# AppTest runs the script in this process; the first run imports Streamlit, pandas, Altair.
TIMEOUT_S = 60


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("seeded-store")
    seed(data_dir)
    return data_dir


OpenPage = Callable[..., AppTest]


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, seeded_dir: Path) -> OpenPage:
    """Run the app on one page; the sidebar's range is the seeded hour [T0, T0 + 1h)
    unless ``state`` says otherwise. Fails on any exception the page shows."""

    def run(
        page: str = "overview",
        state: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        **env: str,
    ) -> AppTest:
        monkeypatch.setenv("SMSRADAR_DATA_DIR", str(data_dir or seeded_dir))
        for name, value in env.items():
            monkeypatch.setenv(f"SMSRADAR_{name.upper()}", value)
        app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        settings: dict[str, Any] = {
            "filter.range": "Custom range",
            "filter.start": naive(T0),
            "filter.end": naive(T0 + HOUR),
            **(state or {}),
        }
        for key, value in settings.items():
            app.session_state[key] = value
        app.run()
        if page != "overview":
            app.switch_page(f"views/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return run


def naive(at: datetime) -> datetime:
    """As st.datetime_input holds it: wall-clock time in the display zone (UTC here)."""
    return at.replace(tzinfo=None)


def metrics(app: AppTest) -> dict[str, tuple[str, str]]:
    """label -> (value, delta) of every st.metric shown."""
    return {m.label: (m.value, m.delta) for m in app.metric}


def texts(elements: Any) -> list[str]:
    return [e.value for e in elements]


def table(app: AppTest, index: int) -> list[dict[str, Any]]:
    """The rows of the index-th st.dataframe, NaN/NaT as None."""
    frame = app.dataframe[index].value
    return [
        {k: (None if v is None or v != v else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def chart_specs(app: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def axis_titles(spec: dict[str, Any]) -> set[str]:
    """Every axis title of a chart (layered charts included)."""
    found: set[str] = set()
    for part in [spec, *spec.get("layer", [])]:
        for channel in ("x", "y"):
            title = part.get("encoding", {}).get(channel, {}).get("title")
            if title:
                found.add(title)
    return found
