"""Kafka client construction from settings, shared by every part that talks to the broker."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from smsradar.partitioning import default_partitioner
from smsradar.settings import Settings

# Room for the envelope and headers the receiver wraps a webhook body in.
RECORD_HEADROOM_BYTES = 64 * 1024


def max_record_bytes(settings: Settings) -> int:
    """The largest record smsradar writes: a body of ``max_body_bytes`` in its envelope (a
    webhook record, or a rejected body kept raw in the dead-letter topic). Producers may
    send it and the topics that take such records accept it (``max.message.bytes``)."""
    return max(1024 * 1024, settings.max_body_bytes + RECORD_HEADROOM_BYTES)


def raw_body_topic_config(settings: Settings) -> dict[str, str]:
    """Configs of the topics that carry whole webhook bodies (webhook and dead-letter topics)."""
    return {"max.message.bytes": str(max_record_bytes(settings))}


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options common to producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer whose acknowledged writes are on every in-sync replica (acks=all)."""
    options: dict[str, Any] = {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": settings.producer_idempotence,
        "linger_ms": 2,
        "request_timeout_ms": int(settings.publish_timeout_s * 1000),
        "compression_type": None,
        "max_request_size": max_record_bytes(settings),
        "partitioner": default_partitioner,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def ensure_topics(
    settings: Settings, topics: dict[str, dict[str, str]], partitions: int | None = None
) -> None:
    """Create the topics that do not exist yet (``topics``: name -> topic configs)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=configs,
            )
            for name, configs in topics.items()
            if name not in existing
        ]
        if missing:
            # Another process may have created them in the meantime.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
