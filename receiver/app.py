"""The receiver's ASGI app: one route per provider endpoint plus health and metrics."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.deadlines import Deadlines
from receiver.metrics import ReceiverMetrics
from receiver.openapi import openapi_document
from receiver.publisher import Publisher, PublishUnavailable, Record
from receiver.ratelimit import RateLimiter, retry_after_header
from smsradar.heap import collect_in_full_every
from smsradar.model import message_key
from smsradar.providers import ADAPTERS
from smsradar.providers.base import (
    Adapter,
    Endpoint,
    SignatureRejected,
    SignedRequest,
    Webhook,
    WebhookValidationError,
)
from smsradar.settings import Settings

log = logging.getLogger("smsradar.receiver")

# Field errors named in a 422 answer and its dead-letter record.
MAX_REPORTED_ERRORS = 20

Handler = Callable[[Request], Awaitable[Response]]


class Rejection(Exception):
    """A request answered with an error status; ``reason`` labels the metric and the log.

    ``detail`` is answered to the client and may quote what it sent (a field error's
    message); ``logged`` is what the log gets instead when it does, since the log must
    never hold a message's text.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        *,
        logged: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.errors = errors
        self.logged = detail if logged is None else logged
        self.headers = headers

    def response(self, request_id: str) -> JSONResponse:
        body: dict[str, Any] = {
            "error": self.reason,
            "detail": self.detail,
            "request_id": request_id,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    media_type = _media_type(content_type)
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _is_form(content_type: str) -> bool:
    return _media_type(content_type) == "application/x-www-form-urlencoded"


def _bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ("" for any other)."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _query_token(query_string: bytes) -> str:
    """The ``token`` query parameter ("" without one), parsed as Starlette's
    ``request.query_params`` would (the last of a repeated name) without building the
    multi-dict it keeps of every parameter (3.5 µs a request)."""
    if not query_string:
        return ""
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)).get("token", "")


def _decode_form(body: bytes) -> dict[str, str]:
    """Form fields by name (a repeated name keeps its last value); ValueError if malformed."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))


class RequestIds:
    """Unique request ids, 32 hex digits like a UUID's: a random prefix per process and a
    counter (a uuid4 per request reads the system's random source every time)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._numbers = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._numbers):016x}"


class WebhookHandler:
    """Turns one provider endpoint's requests into acknowledged Kafka records."""

    def __init__(
        self,
        adapter: Adapter,
        endpoint: Endpoint,
        settings: Settings,
        publisher: Publisher,
        metrics: ReceiverMetrics,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.adapter = adapter
        self.endpoint = endpoint
        self.settings = settings
        self.publisher = publisher
        self.metrics = metrics
        self.limiter = limiter
        token = settings.webhook_token_for(adapter.name)
        self._token = token.get_secret_value().encode() if token else None
        self._signature_check = endpoint.signature(settings) if endpoint.signature else None
        public_url = settings.receiver_public_url
        self._public_url = public_url.rstrip("/") if public_url else None
        self._request_ids = RequestIds()
        self._deadlines = Deadlines()
        self._accepted_counters: dict[str, Any] = {}

    async def handle(self, request: Request) -> Response:
        request_id = self._request_ids.next()
        received_at = datetime.now(UTC)
        try:
            # Before anything else, so a flood (or a token guesser) costs the least.
            self._limit_rate(request)
            self._authenticate(request)
            body = await self._read_body(request)
            self._verify_signature(request, body, received_at)
            webhooks = await self._validate(body, request_id, received_at)
            if webhooks:  # a gateway heartbeat is accepted with nothing to publish
                await self._publish(webhooks, request_id, received_at)
        except Rejection as rejection:
            return self._reject(rejection, request_id)
        for webhook in webhooks:
            self._accepted(webhook.kind).inc()
            if webhook.unknown_code is not None:
                self.metrics.unknown_codes.labels(self.adapter.name, webhook.unknown_code).inc()
        answer = {
            "request_id": request_id,
            "provider": self.adapter.name,
            "accepted": len(webhooks),
            "kinds": sorted({w.kind for w in webhooks}),
            # the time every accepted webhook was stamped with (its envelope's)
            "received_at": received_at.isoformat(),
        }
        return Response(orjson.dumps(answer), status_code=202, media_type="application/json")

    def _accepted(self, kind: str) -> Any:
        """The accepted counter of ``kind`` (looked up once: a label lookup per request
        costs more than the increment)."""
        counter = self._accepted_counters.get(kind)
        if counter is None:
            counter = self._accepted_counters[kind] = self.metrics.accepted.labels(
                self.adapter.name, kind
            )
        return counter

    def _limit_rate(self, request: Request) -> None:
        if self.limiter is None:
            return
        # The peer, or behind SMSRADAR_TRUSTED_PROXIES the address they forwarded for
        # (uvicorn's proxy headers middleware, receiver/server.py).
        source = request.client.host if request.client else ""
        wait_s = self.limiter.acquire(source)
        if wait_s is not None:
            raise Rejection(
                429,
                "rate_limited",
                f"over {self.settings.rate_limit_per_s:g} requests/s from this address",
                headers={"Retry-After": retry_after_header(wait_s)},
            )

    def _authenticate(self, request: Request) -> None:
        if self._token is None:
            return
        # ?token= (CONTRACT.md) or Authorization: Bearer, for gateways that can set headers;
        # both compared in full, in constant time, whichever was given.
        given = [
            _query_token(request.scope["query_string"]),
            _bearer_token(request.headers.get("authorization", "")),
        ]
        matches = [hmac.compare_digest(token.encode(), self._token) for token in given]
        if not any(matches):
            raise Rejection(
                401, "unauthorized", "missing or wrong token (?token= or Authorization: Bearer)"
            )

    def _verify_signature(self, request: Request, body: bytes, received_at: datetime) -> None:
        if self._signature_check is None:
            return
        url = str(request.url)
        if self._public_url is not None:
            query = request.url.query
            url = f"{self._public_url}{request.url.path}{'?' + query if query else ''}"
        try:
            self._signature_check(SignedRequest(url, request.headers, body, received_at))
        except SignatureRejected as exc:
            raise Rejection(401, "bad_signature", str(exc)) from None

    async def _read_body(self, request: Request) -> bytes:
        content_type = request.headers.get("content-type", "")
        if self.endpoint.body_format == "form":
            if not _is_form(content_type):
                raise Rejection(
                    415,
                    "unsupported_media_type",
                    "Content-Type must be application/x-www-form-urlencoded",
                )
        elif not _is_json(content_type):
            raise Rejection(415, "unsupported_media_type", "Content-Type must be application/json")
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Rejection(413, "too_large", f"body over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        # uvicorn times out idle keep-alive connections only; a client dribbling its body
        # would hold this task and its connection for as long as it likes.
        timeout_s = self.settings.request_timeout_s
        try:
            with self._deadlines.limit(timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise Rejection(413, "too_large", f"body over {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise Rejection(
                408,
                "request_timeout",
                f"body not received within {timeout_s:g} s",
                headers={"Connection": "close"},
            ) from None
        return b"".join(chunks)

    async def _validate(self, body: bytes, request_id: str, received_at: datetime) -> list[Webhook]:
        decoded: Any
        try:
            decoded = (
                _decode_form(body) if self.endpoint.body_format == "form" else orjson.loads(body)
            )
        except orjson.JSONDecodeError as exc:
            # orjson names the position only, never the text: safe to log.
            rejection = Rejection(400, "malformed_json", f"body is not valid JSON: {exc}")
            await self._dead_letter(body, rejection, request_id, received_at)
            raise rejection from None
        except UnicodeDecodeError as exc:
            rejection = Rejection(400, "malformed_form", f"body is not UTF-8: {exc.reason}")
            await self._dead_letter(body, rejection, request_id, received_at)
            raise rejection from None
        except ValueError:
            # parse_qsl's message quotes the bad field, which may be a message's text.
            rejection = Rejection(400, "malformed_form", "body is not a valid form")
            await self._dead_letter(body, rejection, request_id, received_at)
            raise rejection from None
        try:
            return self.endpoint.parse(decoded)
        except WebhookValidationError as exc:
            # An array of 100,000 bad objects has 100,000 errors: the answer and the
            # dead-letter headers name the first ones, or the record outgrows the broker's
            # request size and the body could not be kept.
            errors = [{"loc": e.loc, "msg": e.msg} for e in exc.errors[:MAX_REPORTED_ERRORS]]
            detail = f"not a valid webhook: {exc.summary(MAX_REPORTED_ERRORS)}"
            # A field error's message can quote the value (a message's text): the log gets
            # each field and the error's type only.
            logged = f"not a valid webhook: {exc.locations(MAX_REPORTED_ERRORS)}"
            rejection = Rejection(422, "invalid_schema", detail, errors, logged=logged)
            await self._dead_letter(body, rejection, request_id, received_at)
            raise rejection from None

    async def _publish(
        self, webhooks: list[Webhook], request_id: str, received_at: datetime
    ) -> None:
        received = received_at.isoformat()
        records = [
            Record(
                topic=self.settings.webhook_topic(self.adapter.name, webhook.kind),
                key=message_key(self.adapter.name, webhook.message_id).encode(),
                value=orjson.dumps(
                    {
                        "provider": self.adapter.name,
                        "kind": webhook.kind,
                        "request_id": request_id,
                        "index": index,
                        "received_at": received,
                        "payload": webhook.payload,
                    }
                ),
            )
            for index, webhook in enumerate(webhooks)
        ]
        await self._send(records)

    async def _dead_letter(
        self, body: bytes, rejection: Rejection, request_id: str, received_at: datetime
    ) -> None:
        """Keep the raw body of a rejected webhook, so nothing a gateway sent is lost."""
        headers = [
            ("source", b"receiver"),
            ("provider", self.adapter.name.encode()),
            ("route", self.endpoint.path.encode()),
            ("request_id", request_id.encode()),
            ("received_at", received_at.isoformat().encode()),
            ("status", str(rejection.status).encode()),
            ("reason", rejection.reason.encode()),
            ("errors", orjson.dumps(rejection.errors or [])),
        ]
        record = Record(self.settings.deadletter_topic, request_id.encode(), body, headers)
        await self._send([record])

    async def _send(self, records: list[Record]) -> None:
        with self.metrics.publish_latency.time():
            try:
                await self.publisher.publish(records)
            except PublishUnavailable as exc:
                retry_after = {"Retry-After": str(self.settings.retry_after_s)}
                raise Rejection(503, "broker_unavailable", str(exc), headers=retry_after) from None

    def _reject(self, rejection: Rejection, request_id: str) -> Response:
        self.metrics.rejected.labels(self.adapter.name, rejection.reason).inc()
        # A refused flood is counted, not logged request by request: it would fill the log.
        level = logging.DEBUG if rejection.status == 429 else logging.WARNING
        log.log(
            level,
            "webhook rejected",
            extra={
                "request_id": request_id,
                "provider": self.adapter.name,
                "route": self.endpoint.path,
                "status": rejection.status,
                "reason": rejection.reason,
                "detail": rejection.logged[:300],
            },
        )
        return rejection.response(request_id)


def create_app(
    settings: Settings,
    publisher: Publisher,
    lifespan: Callable[[Starlette], Any] | None = None,
) -> Starlette:
    """The receiver app. ``lifespan`` starts and stops the publisher when it needs it."""
    metrics = ReceiverMetrics()
    limiter = RateLimiter.of(settings)  # one for every route: the limit is per source
    routes = [
        Route(
            endpoint.path,
            WebhookHandler(adapter, endpoint, settings, publisher, metrics, limiter).handle,
            methods=["POST"],
        )
        for adapter in ADAPTERS.values()
        for endpoint in adapter.endpoints
    ]
    openapi = orjson.dumps(openapi_document(list(ADAPTERS.values())))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if await publisher.ready():
            return JSONResponse({"status": "ready", "broker": "reachable"})
        return JSONResponse({"status": "not ready", "broker": "unreachable"}, status_code=503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi_endpoint(_: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes += [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/openapi.json", openapi_endpoint),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.metrics = metrics
    return app


def kafka_app(settings: Settings) -> Starlette:
    """The production app: publishes to Kafka, connecting in the background if need be."""
    from receiver.publisher import KafkaPublisher

    topics = [settings.deadletter_topic] + [
        settings.webhook_topic(adapter.name, kind)
        for adapter in ADAPTERS.values()
        for kind in adapter.kinds
    ]
    publisher = KafkaPublisher(settings, topics)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for adapter in ADAPTERS.values():
            signed = any(
                e.signature is not None and e.signature(settings) is not None
                for e in adapter.endpoints
            )
            if settings.webhook_token_for(adapter.name) is None and not signed:
                log.warning(
                    "SMSRADAR_WEBHOOK_TOKEN is not set: %s routes accept anyone (set it, or"
                    " SMSRADAR_%s_WEBHOOK_TOKEN)",
                    adapter.name,
                    adapter.name.upper(),
                )
        for adapter in ADAPTERS.values():
            for endpoint in adapter.endpoints:
                if endpoint.signature is not None and endpoint.signature(settings) is None:
                    log.warning(
                        "%s signatures are not checked: its secret is not set (README: %s)",
                        adapter.name,
                        endpoint.path,
                    )
        await publisher.start()
        # the receiver's process collects garbage in full only on this clock (receiver.server)
        full_collections = asyncio.create_task(
            collect_in_full_every(), name="full garbage collections"
        )
        try:
            yield
        finally:
            full_collections.cancel()
            with suppress(asyncio.CancelledError):
                await full_collections
            await publisher.stop()

    return create_app(settings, publisher, lifespan)
