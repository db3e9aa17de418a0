"""The receiver's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ReceiverMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "smsradar_webhooks_accepted",
            "Webhook objects published to Kafka and answered 202.",
            ["provider", "kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "smsradar_requests_rejected",
            "Requests answered with an error status, by reason.",
            ["provider", "reason"],
            registry=self.registry,
        )
        self.unknown_codes = Counter(
            "smsradar_unknown_provider_codes",
            "Accepted webhooks whose status code is outside the provider's documented set.",
            ["provider", "code"],
            registry=self.registry,
        )
        self.publish_latency = Histogram(
            "smsradar_publish_latency_seconds",
            "Time from the start of a publish to the broker's acknowledgement of all records.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
