"""The receiver benchmark's baseline: a no-op endpoint in the receiver's server stack.

Starlette under uvicorn with the settings of ``receiver/server.py`` (one process, no access
log, no server header); the webhook route reads the body and answers 202 with a small JSON
body, doing nothing else. ``python -m smsradar.bench.noop --port P``; SIGINT/SIGTERM stop it.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROUTE = "/webhooks/smsgateway24/status"


def noop_app() -> Starlette:
    async def webhook(request: Request) -> Response:
        await request.body()
        return JSONResponse({"accepted": 1}, status_code=202)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(ROUTE, webhook, methods=["POST"]), Route("/healthz", healthz)])


def serve(host: str, port: int) -> None:
    config = uvicorn.Config(
        noop_app(),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        proxy_headers=False,  # as the receiver without SMSRADAR_TRUSTED_PROXIES
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m smsradar.bench.noop")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port)
