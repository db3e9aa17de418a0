"""The Faust app: one agent over every webhook topic, keyed by message at the receiver.

The receiver keys webhook records ``provider:message_id`` and every webhook topic has the
same partition count, so a message's events arrive on one partition of one worker and
no repartition (``group_by``) is needed. Table changelogs are written to the partition
of the event being processed, so a worker that takes over a partition also takes over
its state.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from smsradar.providers import ADAPTERS
from smsradar.settings import Settings
from streams.processor import Processor, Topics

log = logging.getLogger("smsradar.streams")


def webhook_topic_names(settings: Settings) -> list[str]:
    return [
        settings.webhook_topic(adapter.name, kind)
        for adapter in ADAPTERS.values()
        for kind in adapter.kinds
    ]


def broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{host.strip()}" for host in settings.bootstrap_servers.split(",")]


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings),
        broker_credentials=_credentials(settings),
        store=settings.table_store,
        datadir=str(settings.data_dir / "streams"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        table_standby_replicas=0,
        # A worker killed without leaving its group must not stall the next one for long.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        loghandlers=[],
    )
    partitions = settings.topic_partitions
    source = app.topic(*webhook_topic_names(settings), partitions=partitions)
    topics = Topics.of(settings)

    def fact_topic(name: str) -> faust.TopicT:
        return app.topic(name, partitions=partitions, compacting=True)

    sinks: dict[str, Any] = {
        topics.messages: fact_topic(topics.messages),
        topics.status_events: fact_topic(topics.status_events),
        topics.inbound: fact_topic(topics.inbound),
        topics.failure_rates: fact_topic(topics.failure_rates),
        topics.deadletter: app.topic(topics.deadletter, partitions=partitions),
    }
    states = app.Table(
        "message-state",
        partitions=partitions,
        key_serializer="json",
        value_serializer="json",
    )
    window_entries = app.Table(
        "failure-windows",
        partitions=partitions,
        key_serializer="json",
        value_serializer="json",
    )

    async def emit(topic: str, key: str, value: bytes, headers: dict[str, bytes] | None) -> None:
        await sinks[topic].send(key=key.encode(), value=value, headers=headers)

    processor = Processor(settings, states, window_entries, emit)

    @app.agent(source)
    async def process(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await processor.handle(event.value, event.message.partition)

    return app


def _credentials(settings: Settings) -> Any:
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=_ssl_context(settings),
        )
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        return _ssl_context(settings)
    return None


def _ssl_context(settings: Settings) -> Any:
    import ssl

    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)
