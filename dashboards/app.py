"""The smsradar dashboard: ``streamlit run dashboards/app.py`` (``smsradar dashboard``).

This entry script draws the sidebar (filters and auto-refresh, kept in session state so
they carry across pages) and hands over to the chosen page in ``dashboards/views/``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.reader import connect
from dashboards import filters, page

# Not "pages/": Streamlit takes a pages/ folder beside the entry script for its older
# multipage mode and, on a rerun, runs the page without this script (the sidebar and its
# filters vanished).
VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="smsradar", page_icon=":satellite_antenna:", layout="wide")
settings = page.settings()
navigation = st.navigation(
    [
        st.Page(VIEWS / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(VIEWS / "latency.py", title="Latency", icon=":material/timer:"),
        st.Page(VIEWS / "failures.py", title="Failures", icon=":material/error:"),
        st.Page(VIEWS / "messages.py", title="Messages", icon=":material/search:"),
        st.Page(VIEWS / "inbound.py", title="Inbound", icon=":material/move_to_inbox:"),
        st.Page(VIEWS / "alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page(VIEWS / "sql.py", title="SQL", icon=":material/terminal:"),
    ]
)
with st.sidebar:
    connection = connect(settings)
    try:
        filters.sidebar(connection, page.zone(settings))
    finally:
        connection.close()
    page.refresh_sidebar(settings)
navigation.run()
