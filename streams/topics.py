"""Where the stream stages write, and the one way they write: ``Emit``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from smsradar.logs import loggable_reason
from smsradar.settings import Settings

log = logging.getLogger("smsradar.streams")

# (topic, key, value, headers)
Emit = Callable[[str, str, bytes, dict[str, bytes] | None], Awaitable[None]]


@dataclass(frozen=True)
class Topics:
    events: str
    messages: str
    status_events: str
    inbound: str
    failure_rates: str
    alerts: str
    alert_windows: str
    deadletter: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        return cls(
            events=settings.events_topic,
            messages=settings.fact_topic("messages"),
            status_events=settings.fact_topic("status_events"),
            inbound=settings.fact_topic("inbound_messages"),
            failure_rates=settings.fact_topic("failure_rates"),
            alerts=settings.fact_topic("alerts"),
            alert_windows=settings.alert_windows_topic,
            deadletter=settings.deadletter_topic,
        )

    @property
    def facts(self) -> tuple[str, ...]:
        return (self.messages, self.status_events, self.inbound, self.failure_rates, self.alerts)


def dump(model: BaseModel) -> bytes:
    # pydantic-core's serializer straight to JSON bytes: the same bytes as orjson over
    # model_dump(mode="json") without building the dict (2.5 vs 4.1 µs a message fact).
    return model.__pydantic_serializer__.to_json(model)


async def dead_letter(emit: Emit, topics: Topics, stage: str, raw: bytes, exc: Exception) -> None:
    """Send a record a stage cannot use to the dead-letter topic, with the reason."""
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    log.warning("event dead-lettered", extra={"stage": stage, "reason": loggable_reason(exc)})
    headers = {"source": b"streams", "stage": stage.encode(), "reason": reason.encode()}
    await emit(topics.deadletter, stage, raw, headers)
