"""Run the receiver under uvicorn; uvicorn stops it gracefully on SIGINT/SIGTERM."""

from __future__ import annotations

import uvicorn

from receiver.app import kafka_app
from smsradar.heap import collect_garbage_less_often, freeze_the_start_up_heap
from smsradar.settings import Settings

# Idle keep-alive connections close after this many seconds (uvicorn's default). A client
# must give up idle connections sooner, or it can send on one the receiver is closing.
KEEP_ALIVE_S = 5


def serve(settings: Settings) -> None:
    proxies = [str(network) for network in settings.trusted_proxies]
    config = uvicorn.Config(
        kafka_app(settings),
        host=settings.receiver_host,
        port=settings.receiver_port,
        # Off for good: one log line per rejection is ours, per-request lines cost
        # throughput, and a request's URL carries the webhook token (?token=).
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        # X-Forwarded-For/-Proto are believed from SMSRADAR_TRUSTED_PROXIES only (uvicorn
        # would trust 127.0.0.1 by default): request.client is then the address the proxy
        # forwarded for, which the rate limit counts by.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
        # uvicorn has no deadline for a request's body: SMSRADAR_REQUEST_TIMEOUT_S is the
        # app's (408).
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    # Full collections stalled every request in flight: in a `bench --only receiver` run,
    # 12-19 of them, up to 52 ms each, 0.9-1.3 s in all. Young collections come less often,
    # as in the worker, the start-up heap is frozen (why: smsradar.heap), and the app's
    # lifespan collects in full on a clock (receiver.app.kafka_app). Then: 113 collections,
    # 0.03 s, the longest 3 ms; throughput 0.34 -> 0.39 of the no-op's.
    collect_garbage_less_often()
    freeze_the_start_up_heap()
    uvicorn.Server(config).run()
