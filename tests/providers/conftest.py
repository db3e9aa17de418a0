from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smsradar.model import CanonicalEvent
from smsradar.providers import ADAPTERS
from smsradar.providers.base import Webhook, WebhookEnvelope

FIXTURES = Path(__file__).parent.parent / "fixtures"
RECEIVED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def load_fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


def envelope_for(provider: str, webhook: Webhook, index: int = 0) -> WebhookEnvelope:
    return WebhookEnvelope(
        provider=provider,
        kind=webhook.kind,
        request_id=str(uuid.UUID(int=index)),
        index=index,
        received_at=RECEIVED_AT,
        payload=webhook.payload,
    )


Normalizer = Callable[..., list[CanonicalEvent]]


@pytest.fixture
def canonical() -> Normalizer:
    """Parse a body as the receiver does, then normalize it as the stream does."""

    def run(
        provider: str, route: str, body: Any, zone: ZoneInfo = UTC_ZONE
    ) -> list[CanonicalEvent]:
        adapter = ADAPTERS[provider]
        (endpoint,) = [e for e in adapter.endpoints if e.path == route]
        events: list[CanonicalEvent] = []
        for index, webhook in enumerate(endpoint.parse(body)):
            events.extend(adapter.normalize(envelope_for(provider, webhook, index), zone))
        return events

    return run
