"""What a page says when there is nothing to show: how to get data in, or where it is."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import duckdb
import streamlit as st

from analytics import queries
from dashboards import format
from smsradar.settings import Settings

GETTING_STARTED = """\
**No data yet.** smsradar fills this page from your gateways' webhooks.

- Try it with simulated traffic: `make demo`, or `smsradar simulate --url {receiver}` \
while `smsradar up` runs.
- Or point a gateway at the receiver: SMSGateway24 status and incoming webhooks at \
`{receiver}/webhooks/smsgateway24/status` and `…/incoming`, Smstools at \
`{receiver}/webhooks/smstools`{token}.

Data shows up here within seconds of the webhook being accepted.
"""


def receiver_url(settings: Settings) -> str:
    return f"http://{settings.receiver_host}:{settings.receiver_port}"


def nothing_selected(
    connection: duckdb.DuckDBPyConnection, settings: Settings, what: str = "messages"
) -> None:
    """An empty selection: either the store is empty (say how to fill it) or the filters
    leave nothing (say what the store has)."""
    extent = queries.store_extent(connection)
    if extent.is_empty:
        getting_started(settings)
        return
    zone = ZoneInfo(settings.display_timezone)
    newest = max(
        (at for at in (extent.newest_message_at, extent.newest_inbound_at) if at is not None),
        default=None,
    )
    st.info(
        f"No {what} in the selected time range and filters. The store holds "
        f"{format.count(extent.messages)} outbound and {format.count(extent.inbound)} "
        f"incoming messages, the newest from {format.local_time(newest, zone)} "
        f"({zone.key}): widen the time range or clear a filter in the sidebar."
    )


def getting_started(settings: Settings) -> None:
    token = " (add `?token=…`: SMSRADAR_WEBHOOK_TOKEN is set)" if settings.webhook_token else ""
    st.info(GETTING_STARTED.format(receiver=receiver_url(settings), token=token))
