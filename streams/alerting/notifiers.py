"""Notifications of alert state changes: a JSON webhook, a Slack incoming webhook, the log.

One notification per alert and state (firing, resolved): ``Notifications`` keeps a
ledger (a Faust table in the worker) of the last state notified per alert, so an alert
fact seen again (a replay after a crash re-emits it) is not notified twice. A target
that fails is retried with exponential back-off; the stream that evaluates rules never
waits for it (notifications are a stage of their own, on the alerts topic).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import orjson

from smsradar.facts import AlertFact
from streams.alerting.rules import Notifier

log = logging.getLogger("smsradar.alerts")

# Later states supersede earlier ones: a resolved alert is never notified as firing.
STATE_ORDER = {"firing": 1, "resolved": 2}
MAX_BACKOFF_S = 60.0


def webhook_payload(alert: AlertFact) -> dict[str, Any]:
    return {"source": "smsradar", **alert.model_dump(mode="json")}


def slack_payload(alert: AlertFact) -> dict[str, Any]:
    icon = ":rotating_light:" if alert.state == "firing" else ":white_check_mark:"
    title = f"{icon} smsradar alert {alert.state.upper()}: {alert.rule}"
    return {"text": f"{title}\n{alert.message}\nalert {alert.alert_id}"}


PAYLOADS: dict[str, Callable[[AlertFact], dict[str, Any]]] = {
    "webhook": webhook_payload,
    "slack": slack_payload,
}

Sleep = Callable[[float], Awaitable[None]]


class Notifications:
    """Sends each alert state change once to every target (and to the log)."""

    def __init__(
        self,
        targets: tuple[Notifier, ...],
        ledger: MutableMapping[str, str],
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        persist: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.targets = targets
        self.ledger = ledger
        # Makes the ledger durable at once (the worker flushes the table's changelog):
        # a crash right after a delivery must not send it again after the restart.
        self.persist = persist
        self.client = client or httpx.AsyncClient()
        self.sleep = sleep

    async def handle(self, value: bytes) -> None:
        try:
            alert = AlertFact.model_validate_json(value)
        except ValueError as exc:
            log.error("alert fact unreadable, not notified", extra={"reason": str(exc)[:300]})
            return
        notified = self.ledger.get(alert.alert_id)
        if notified is not None and STATE_ORDER[notified] >= STATE_ORDER[alert.state]:
            log.debug("alert already notified", extra={"alert_id": alert.alert_id})
            return
        log.warning(
            f"alert {alert.state}: {alert.message}",
            extra={"alert_id": alert.alert_id, "rule": alert.rule, "state": alert.state},
        )
        await asyncio.gather(*(self._deliver(target, alert) for target in self.targets))
        self.ledger[alert.alert_id] = alert.state
        if self.persist is not None:
            await self.persist()

    async def _deliver(self, target: Notifier, alert: AlertFact) -> bool:
        body = orjson.dumps(PAYLOADS[target.type](alert))
        headers = {
            "Content-Type": "application/json",
            # Lets a receiver drop the rare repeat (a crash right after a delivery).
            "Idempotency-Key": f"{alert.alert_id}:{alert.state}",
        }
        for attempt in range(1, target.max_attempts + 1):
            try:
                response = await self.client.post(
                    str(target.url), content=body, headers=headers, timeout=target.timeout_s
                )
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            # Never the URL itself: a Slack URL is a secret.
            log.warning(
                "alert notification failed, will retry"
                if attempt < target.max_attempts
                else "alert notification failed, giving up",
                extra={
                    "alert_id": alert.alert_id,
                    "notifier": target.type,
                    "attempt": attempt,
                    "problem": problem[:300],
                },
            )
            if attempt < target.max_attempts:
                await self.sleep(min(MAX_BACKOFF_S, target.backoff_s * 2 ** (attempt - 1)))
        return False

    async def close(self) -> None:
        await self.client.aclose()
