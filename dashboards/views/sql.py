"""SQL: a read-only console over the analytics relations (as ``smsradar sql``)."""

from __future__ import annotations

import streamlit as st

from analytics.formats import to_csv
from analytics.reader import QueryError, run_query
from dashboards.page import PageContext, live

QUERY = "sql.query"
MAX_ROWS = 10_000
TIMEOUT_S = 30.0
EXAMPLE = """\
SELECT provider, status, count(*) AS messages
FROM messages
WHERE created_at > now() - INTERVAL 1 HOUR
GROUP BY ALL
ORDER BY messages DESC"""
RELATIONS = """\
Relations: `messages`, `status_events`, `inbound_messages`, `failure_rates`, `alerts` \
(columns in the README). One `SELECT` (or `EXPLAIN`) at a time; nothing can be written. \
Times are `TIMESTAMPTZ` in UTC."""


def render(page: PageContext) -> None:
    st.markdown(RELATIONS)
    st.session_state.setdefault(QUERY, EXAMPLE)
    with st.form("sql.form", border=False):
        sql = st.text_area("Query", key=QUERY, height=160)
        submitted = st.form_submit_button("Run", type="primary")
    if not submitted:
        return
    try:
        result = run_query(page.connection, sql, max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
    except QueryError as exc:
        st.error(f"Query refused or failed: {exc}")
        return
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.DataFrame(result.rows, columns=result.columns)
    count = len(result.rows)
    more = f" (the first {MAX_ROWS:,}; add a LIMIT or aggregate)" if result.truncated else ""
    st.caption(f"{count:,} row{'s' if count != 1 else ''}{more}.")
    st.dataframe(frame, hide_index=True)
    st.download_button("Download CSV", to_csv(result), file_name="smsradar.csv", mime="text/csv")


# No auto-refresh: a query runs when asked, not every few seconds.
live("SQL", render, refresh=False)
