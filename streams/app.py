"""The Faust app: normalize the webhooks and join every message's events, in one stage.

    webhook topics --normalize, join--> fact topics
                   └-(a record not keyed by its message)-> events topic --join--┘

The receiver keys webhook records by message, and the webhook topics and the events
topic have the same partition count, so a record's events are joined on the partition
it was read from (``streams.webhook_join``); the events topic carries only the events
of records keyed otherwise, re-keyed. A message's events meet on one partition of one
worker either way. Table changelogs are written to the partition of the event being
processed, so a worker that takes over a partition takes over its state.

The join stages, and the alerting stages after them (route, evaluate), take records in
batches (``stream_batch_max`` records or ``stream_batch_wait_s`` seconds, whichever comes
first) and send their output straight to the producer (the join stages their table's
changelog too, ``streams.changelog``); a batch waits until the broker has acknowledged
everything it sent before its records are acknowledged, so a committed offset never runs
ahead of the output or the state it caused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from faust.types import ConsumerT

from smsradar.kafka import max_record_bytes
from smsradar.providers import ADAPTERS
from smsradar.settings import Settings
from streams import table_store
from streams.alerting.notifiers import Notifications
from streams.alerting.rules import load_alert_config
from streams.alerting.stage import AlertEvaluator, AlertRouter
from streams.consumer import SeekSafeConsumer
from streams.join import MessageJoiner
from streams.normalize import Normalizer
from streams.producing import ProducerRecord, SentBatch, send_batches
from streams.topics import Topics
from streams.webhook_join import WebhookJoin, WebhookRecord, keyed_partition

log = logging.getLogger("smsradar.streams")


def webhook_topic_names(settings: Settings) -> list[str]:
    return [
        settings.webhook_topic(adapter.name, kind)
        for adapter in ADAPTERS.values()
        for kind in adapter.kinds
    ]


def broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{host.strip()}" for host in settings.bootstrap_servers.split(",")]


class _App(faust.App):
    """Faust's app with the worker's consumer (``streams.consumer``)."""

    smsradar_settings: Settings
    rocksdb_budget: table_store.MemoryBudget

    def _new_consumer(self) -> ConsumerT:
        consumer = SeekSafeConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
        consumer.smsradar_settings = self.smsradar_settings
        return consumer


def create_app(settings: Settings) -> faust.App:
    app = _App(
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
        # Batch the many small fact and changelog records (0 sends one request per record).
        producer_linger=0.01,
        # A webhook record is a whole body in its envelope, and a poison one is dead-lettered
        # whole: the receiver's limit (Faust's default request size, 1,000,000, is below it).
        producer_max_request_size=max_record_bytes(settings),
        consumer_max_fetch_size=max_record_bytes(settings),
        web_enabled=False,
        table_standby_replicas=0,
        # A worker killed without leaving its group must not stall the next one for long.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        loghandlers=[],
        Table=table_store.Table,
    )
    app.smsradar_settings = settings
    app.rocksdb_budget = table_store.MemoryBudget(
        write_buffer_bytes=settings.rocksdb_write_buffer_mib * table_store.MIB,
        block_cache_bytes=settings.rocksdb_block_cache_mib * table_store.MIB,
    )
    partitions = settings.topic_partitions
    topics = Topics.of(settings)
    # internal=True: the worker creates every topic it reads or writes, with these partition
    # counts, before it subscribes. Apache Kafka would otherwise auto-create a written topic
    # with the broker's num.partitions, and a consumer subscribed before the topic existed
    # does not see it until its next metadata refresh (minutes).
    sinks: dict[str, Any] = {
        name: app.topic(name, partitions=partitions, compacting=True, internal=True)
        for name in topics.facts
    }
    sinks[topics.events] = app.topic(topics.events, partitions=partitions, internal=True)
    sinks[topics.deadletter] = app.topic(topics.deadletter, partitions=partitions, internal=True)

    batch_max, batch_wait_s = settings.stream_batch_max, settings.stream_batch_wait_s
    join_state = _table(app, "join-state")
    # both join stages write it a batch at a time, and flush its changelog per batch
    join_state.hold_changelog()
    webhooks = app.topic(*webhook_topic_names(settings), partitions=partitions, internal=True)
    webhook_deliveries = Deliveries(app)
    webhook_join = WebhookJoin(
        Normalizer(settings, webhook_deliveries.emit),
        MessageJoiner(settings, join_state, webhook_deliveries.emit),
        partitions,
    )

    @app.agent(webhooks, name="join")
    async def join(stream: faust.StreamT[bytes]) -> None:
        assert isinstance(stream, faust.Stream)  # take_events is not on the StreamT protocol
        async for batch in stream.take_events(batch_max, within=batch_wait_s):
            records = [
                WebhookRecord(e.key, e.value, e.message.partition, e.message.offset) for e in batch
            ]
            await webhook_join.handle_batch(records, _partition_entry(stream, batch))
            await _acknowledged(join_state, webhook_deliveries)

    rekeyed_deliveries = Deliveries(app)
    rekeyed_joiner = MessageJoiner(settings, join_state, rekeyed_deliveries.emit)

    @app.agent(sinks[topics.events], name="join-rekeyed")
    async def join_rekeyed(stream: faust.StreamT[bytes]) -> None:
        assert isinstance(stream, faust.Stream)
        async for batch in stream.take_events(batch_max, within=batch_wait_s):
            records = [(e.value, e.message.partition, e.message.offset) for e in batch]
            await rekeyed_joiner.handle_batch(records, _partition_entry(stream, batch))
            await _acknowledged(join_state, rekeyed_deliveries)

    _add_alerting(app, settings, topics, sinks)
    return app


def _add_alerting(app: _App, settings: Settings, topics: Topics, sinks: dict[str, Any]) -> None:
    config = load_alert_config(settings)
    partitions = settings.topic_partitions
    batch_max, batch_wait_s = settings.stream_batch_max, settings.stream_batch_wait_s
    windows = app.topic(topics.alert_windows, partitions=partitions, internal=True)
    sinks[topics.alert_windows] = windows

    # Every failure-rate window a join batch changes is a fact, once per dimension value:
    # these stages see as many records as the join emits, so they batch like it.
    route_deliveries = Deliveries(app)
    router = AlertRouter(config, route_deliveries.emit, topics)

    app.agent(sinks[topics.failure_rates], name="alert-route")(
        _values_in_batches(router.route, route_deliveries, settings)
    )

    evaluate_deliveries = Deliveries(app)
    evaluator = AlertEvaluator(
        config,
        settings.failure_window_s,
        _table(app, "alert-state"),
        evaluate_deliveries.emit,
        topics,
    )

    @app.agent(windows, name="alert-evaluate")
    async def evaluate(stream: faust.StreamT[bytes]) -> None:
        assert isinstance(stream, faust.Stream)  # take_events is not on the StreamT protocol
        async for batch in stream.take_events(batch_max, within=batch_wait_s):
            # a record without a key names no rule: dead-lettered by the evaluator
            records = [
                (_text(e.key), e.value, e.message.partition, e.message.offset) for e in batch
            ]
            await evaluator.evaluate_batch(records, _partition_entry(stream, batch))
            await evaluate_deliveries.wait()

    notifications = Notifications(
        config.notifiers,
        _table(app, "alert-notified"),
        persist=lambda: app.producer.flush(),
    )

    # Its own stage: a slow or failing target delays notifications, never the evaluation.
    # Alert facts are few (a state change each), so one at a time.
    @app.agent(sinks[topics.alerts], name="alert-notify")
    async def notify(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            await notifications.handle(value)


def _text(key: Any) -> str:
    return key.decode(errors="replace") if isinstance(key, bytes) else ""


def _table(app: _App, name: str) -> Any:
    schema: faust.Schema[str, Any] = faust.Schema(key_serializer="json", value_serializer="json")
    return app.Table(
        name,
        partitions=app.smsradar_settings.topic_partitions,
        schema=schema,
        # every table's databases share the worker's one budget (the memory store ignores it)
        options={table_store.MEMORY_BUDGET: app.rocksdb_budget},
    )


class Deliveries:
    """One batched stage's output: held until the stage's batch ends, then sent and awaited.

    Straight to aiokafka a partition batch at a time (``streams.producing``), not through
    Topic.send. Each stage has its own, so a batch waits for exactly what it sent.
    """

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._outgoing: dict[str, list[ProducerRecord]] = {}

    async def emit(
        self, topic: str, key: str, value: bytes, headers: dict[str, bytes] | None
    ) -> None:
        records = self._outgoing.setdefault(topic, [])
        records.append((key.encode(), value, list(headers.items()) if headers else []))

    async def wait(self) -> None:
        """Send everything emitted so far and wait until the broker has acknowledged it;
        raises if a send failed, which stops the worker before the batch's offsets are
        committed (it is replayed)."""
        outgoing, self._outgoing = self._outgoing, {}
        producer = self._app.producer._ensure_producer()  # type: ignore[attr-defined]
        sent: list[SentBatch] = []
        for topic, records in outgoing.items():
            partitions = len(await producer.client._wait_on_metadata(topic))
            by_partition: dict[int, list[ProducerRecord]] = {}
            for record in records:
                key = record[0]
                assert key is not None  # emit() keys every record
                by_partition.setdefault(keyed_partition(key, partitions), []).append(record)
            for partition, partition_records in by_partition.items():
                sent += await send_batches(producer, topic, partition, partition_records)
        # Records are acknowledged a produce request at a time: once the first future of a
        # request is done the others are too, and awaiting a done future costs nothing.
        for batch in sent:
            await batch.delivery


async def _acknowledged(table: Any, deliveries: Deliveries) -> None:
    """Send a join batch's changelog records and output together, and wait for both."""
    await asyncio.gather(table.flush_changelog(), deliveries.wait())


def _partition_entry(
    stream: faust.Stream[bytes], batch: Sequence[faust.EventT[bytes]]
) -> Callable[[int], None]:
    """Points table reads and writes at a partition: Faust writes a change to the
    changelog partition of the stream's current event, and its RocksDB store reads and
    writes that partition's database, so make the current event one of that partition."""
    last_of_partition = {event.message.partition: event for event in batch}

    def enter_partition(partition: int) -> None:
        stream._set_current_event(last_of_partition[partition])

    return enter_partition


def _values_in_batches(
    handle: Callable[[bytes], Awaitable[None]], deliveries: Deliveries, settings: Settings
) -> Callable[[faust.StreamT[bytes]], Awaitable[None]]:
    """An agent that hands each record's value to ``handle``, a batch at a time, and waits
    for what ``deliveries`` sent to be acknowledged before the batch's records are."""

    async def agent(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take(settings.stream_batch_max, within=settings.stream_batch_wait_s)
        async for batch in batches:
            for value in batch:
                await handle(value)
            await deliveries.wait()

    return agent


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
