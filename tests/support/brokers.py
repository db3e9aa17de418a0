"""The brokers the integration tests run on: the embedded Tansu and Apache Kafka.

``SMSRADAR_TEST_BROKER=kafka`` runs them on Apache Kafka only, ``=tansu`` on the embedded
broker only; unset, on both (Kafka only where java and mvn are on PATH; where they are
present and Kafka does not start, the tests fail with the reason).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from tests.support.apache_kafka import tools_missing

BrokerKind = Literal["tansu", "kafka"]
KINDS: tuple[BrokerKind, ...] = ("tansu", "kafka")
VARIABLE = "SMSRADAR_TEST_BROKER"


class BrokerChoiceError(ValueError):
    pass


def brokers_under_test() -> list[BrokerKind]:
    chosen = os.environ.get(VARIABLE, "").strip().lower()
    if not chosen:
        return list(KINDS) if not tools_missing() else ["tansu"]
    if chosen == "tansu":
        return ["tansu"]
    if chosen == "kafka":
        return ["kafka"]
    raise BrokerChoiceError(f"{VARIABLE}={chosen!r}: use kafka, tansu, or leave it unset for both")


def describe_choice() -> str:
    kinds = brokers_under_test()
    line = f"integration brokers: {', '.join(kinds)}"
    if "kafka" not in kinds and not os.environ.get(VARIABLE):
        line += f" (Apache Kafka skipped: {' and '.join(tools_missing())} not on PATH)"
    return line


@dataclass(frozen=True)
class BrokerUnderTest:
    """A running broker of one kind, shared by the tests of a session."""

    kind: BrokerKind
    bootstrap: str

    @property
    def idempotence(self) -> bool:
        # Apache Kafka answers InitProducerId; the embedded Tansu build does not.
        return self.kind == "kafka"


_RUNNING: dict[str, BrokerUnderTest] = {}


def register(broker: BrokerUnderTest) -> None:
    _RUNNING[broker.bootstrap] = broker


def unregister(broker: BrokerUnderTest) -> None:
    _RUNNING.pop(broker.bootstrap, None)


def idempotence_for(bootstrap: str) -> str:
    """``SMSRADAR_KAFKA_IDEMPOTENCE`` for processes using ``bootstrap`` (off for Tansu)."""
    broker = _RUNNING.get(bootstrap)
    return "true" if broker is not None and broker.idempotence else "false"
