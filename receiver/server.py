"""Run the receiver under uvicorn; uvicorn stops it gracefully on SIGINT/SIGTERM."""

from __future__ import annotations

import uvicorn

from receiver.app import kafka_app
from smsradar.settings import Settings


def serve(settings: Settings) -> None:
    config = uvicorn.Config(
        kafka_app(settings),
        host=settings.receiver_host,
        port=settings.receiver_port,
        access_log=False,  # one log line per rejection is ours; per-request lines cost throughput
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    uvicorn.Server(config).run()
