"""The one settings object. Every value comes from a ``SMSRADAR_*`` variable or ``.env``."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "SMSRADAR_"


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class Settings(BaseSettings):
    """All of smsradar's settings; the README lists each with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    # Where the analytics store and other state live.
    data_dir: Path = Path("data")

    # Kafka. Unset bootstrap means: start the embedded broker (Tansu) on embedded_broker_port.
    kafka_bootstrap: str | None = None
    embedded_broker_port: int = Field(default=19092, ge=0, le=65535)
    # None = automatic: on for an external Kafka, off for the embedded broker (it lacks
    # InitProducerId). Correctness never depends on it: the pipeline de-duplicates by event_id.
    kafka_idempotence: bool | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    # A mechanism goes with a SASL_* protocol and back (checked below): the Faust worker
    # would use SASL as soon as a mechanism is set, the other clients only by the protocol.
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, validate_default=True
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None

    @field_validator("kafka_sasl_mechanism")
    @classmethod
    def _sasl_goes_with_a_sasl_protocol(cls, value: str | None, info: ValidationInfo) -> str | None:
        protocol = info.data.get("kafka_security_protocol")
        sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
        if value and not sasl:
            raise ValueError(
                f"a SASL mechanism needs SMSRADAR_KAFKA_SECURITY_PROTOCOL=SASL_SSL or"
                f" SASL_PLAINTEXT, not {protocol}"
            )
        if not value and sasl:
            raise ValueError(f"SMSRADAR_KAFKA_SECURITY_PROTOCOL={protocol} needs a mechanism")
        return value

    topic_prefix: str = Field(default="smsradar", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # Receiver.
    receiver_host: str = "127.0.0.1"
    receiver_port: int = Field(default=8080, ge=0, le=65535)
    # Every webhook route requires it (?token= or Authorization: Bearer) unless the route's
    # gateway has a token of its own (below), which then replaces it on that gateway's routes.
    webhook_token: SecretStr | None = None
    # Per gateway: <adapter name>_webhook_token, read by webhook_token_for (a new gateway
    # needs only its line here).
    smsgateway24_webhook_token: SecretStr | None = None
    smstools_webhook_token: SecretStr | None = None
    twilio_webhook_token: SecretStr | None = None
    smsgate_webhook_token: SecretStr | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # The longest a client may take to send its body (408 after): a client that dribbles a
    # body holds a connection and a task; gateways send theirs at once.
    request_timeout_s: float = Field(default=10.0, gt=0)
    publish_timeout_s: float = Field(default=5.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    # The base URL gateways call the receiver at (scheme, host, port, any path prefix), e.g.
    # https://sms.example.com: Twilio signs the URL it called, which behind a proxy or TLS
    # terminator is not the URL the receiver sees. Unset = the URL of the request as received.
    receiver_public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    # Per-source rate limit of the webhook routes: a token bucket per client address,
    # refilled at rate_limit_per_s, holding rate_limit_burst (default: one second's worth).
    # 0 = off, the default: not every gateway retries a 429, and one gateway's servers can
    # legitimately post thousands of callbacks a second during a campaign.
    rate_limit_per_s: float = Field(default=0.0, ge=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)
    # Buckets kept at most (least recently used dropped): memory stays bounded whatever
    # the number of addresses a flood comes from.
    rate_limit_sources: int = Field(default=10_000, ge=1)
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; none by default: anyone could forge them.
    trusted_proxies: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = ()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for part in (part.strip() for part in value.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part))
            except ValueError as exc:
                # ipaddress's own message alone ("... has host bits set") does not say
                # what was expected.
                raise ValueError(
                    f"{part!r} is not an IP address or network such as 10.0.0.0/8 ({exc})"
                ) from None
        return tuple(networks)

    # Gateway signatures; each check is on when its secret is set.
    # Twilio: the account's Auth Token (X-Twilio-Signature, HMAC-SHA1).
    twilio_auth_token: SecretStr | None = None
    # sms-gate.app: the app's webhook signing key (X-Signature, HMAC-SHA256 with X-Timestamp).
    smsgate_signing_key: SecretStr | None = None
    # How far X-Timestamp may be from the receiver's clock, either way: an older signed
    # request is a replay (sms-gate's documentation suggests 5 minutes).
    smsgate_signature_tolerance_s: int = Field(default=300, ge=1)

    @field_validator(
        "webhook_token",
        "smsgateway24_webhook_token",
        "smstools_webhook_token",
        "twilio_webhook_token",
        "smsgate_webhook_token",
        "twilio_auth_token",
        "smsgate_signing_key",
        "body_hash_key",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # `VAR=` (as a compose file's ${VAR:-} gives) must not turn on a check whose key
        # is the empty string.
        return None if value == "" else value

    # Stream processing.
    app_id: str = Field(default="smsradar", pattern=r"^[A-Za-z0-9._-]+$")
    table_store: str = Field(default="memory://", pattern=r"^(memory|rocksdb)://")
    # RocksDB memory of the whole worker, shared by all its databases (3 tables x
    # topic_partitions): memtables past the write-buffer budget are flushed to disk, the
    # block cache caches reads and the files' index and filter blocks.
    rocksdb_write_buffer_mib: int = Field(default=8, ge=1)
    rocksdb_block_cache_mib: int = Field(default=8, ge=1)
    failure_window_s: int = Field(default=60, ge=1)
    # Outcomes may arrive this late (event time, behind the newest window) and still count.
    failure_window_lateness_s: int = Field(default=6 * 3600, ge=0)
    # Events stamped further than this after their arrival are dead-lettered (broken clocks).
    max_clock_skew_s: int = Field(default=24 * 3600, ge=0)
    # Message texts. The analytics keep each text's length and, with a key, its
    # HMAC-SHA256 (hex): identical texts can be found without being stored. Without a key
    # no hash is kept: an unkeyed hash of a short text (a login code) is reversed by trying
    # every candidate. The worker computes it, so every worker needs the same key.
    body_hash_key: SecretStr | None = None
    # Keep the texts themselves in the messages and inbound_messages relations.
    store_message_bodies: bool = False
    # A stream stage takes up to this many records at once, waiting at most this long for
    # them: bigger batches coalesce more table and fact writes; the wait adds to freshness.
    stream_batch_max: int = Field(default=2000, ge=1)
    stream_batch_wait_s: float = Field(default=0.05, gt=0)

    # Alerting. A TOML file of rules and notifiers (README: Alerting); unset = defaults.
    alert_rules: Path | None = None
    # Notification targets besides the file's; secrets, as their URLs carry tokens.
    alert_webhook_url: SecretStr | None = None
    alert_slack_url: SecretStr | None = None

    # Analytics store (the sink and its compactor).
    # Facts are written to a new Parquet segment at least this often: the freshness floor.
    sink_flush_interval_s: float = Field(default=0.5, gt=0)
    sink_max_batch_rows: int = Field(default=50_000, ge=1)
    compact_interval_s: float = Field(default=5.0, gt=0)
    # A partition's base segment is rewritten once its newer segments hold this many rows
    # (or an eighth of the base, if more): rewriting the big file is the costly step.
    compact_rebase_min_rows: int = Field(default=100_000, ge=1)
    # The compactor's DuckDB memory; a rewrite needing more spills to the store's disk.
    compact_memory_mib: int = Field(default=256, ge=64)
    # status_events and inbound_messages older than this are dropped when segments are
    # merged; messages, failure_rates and alerts are kept. 0 keeps everything.
    retention_days: int = Field(default=30, ge=0)

    # Dashboard.
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8501, ge=0, le=65535)
    # The zone the dashboard shows times in (IANA name); the store keeps UTC.
    display_timezone: str = "UTC"
    # The dashboard's default auto-refresh interval; 0 = off (each viewer can change it).
    dashboard_refresh_s: int = Field(default=10, ge=0)

    # How naive provider timestamps are read (IANA zone names).
    smsgateway24_timezone: str = "UTC"
    smstools_timezone: str = "Europe/Brussels"
    # sms-gate.app sends ISO 8601 times with the phone's offset; this zone is for any without.
    smsgate_timezone: str = "UTC"
    # Region assumed for national-format numbers without a country code.
    default_region: str = Field(default="BE", pattern=r"^[A-Z]{2}$")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    _check_zones = field_validator(
        "smsgateway24_timezone", "smstools_timezone", "smsgate_timezone", "display_timezone"
    )(_check_zone)

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.embedded_broker_port}"

    @property
    def producer_idempotence(self) -> bool:
        if self.kafka_idempotence is None:
            return not self.embedded_broker
        return self.kafka_idempotence

    def webhook_token_for(self, provider: str) -> SecretStr | None:
        """The token ``provider``'s routes require: its own if set, else the global one."""
        own: SecretStr | None = getattr(self, f"{provider}_webhook_token", None)
        return own if own is not None else self.webhook_token

    @property
    def rate_limit_capacity(self) -> int:
        """Requests a source may send at once after being idle (the bucket's size)."""
        return self.rate_limit_burst or max(1, math.ceil(self.rate_limit_per_s))

    def timezone_for(self, provider: str) -> ZoneInfo:
        """The zone naive timestamps of ``provider`` are read in (UTC if it has no setting)."""
        return ZoneInfo(str(getattr(self, f"{provider}_timezone", "UTC")))

    @property
    def deadletter_topic(self) -> str:
        return f"{self.topic_prefix}.deadletter"

    @property
    def events_topic(self) -> str:
        """Canonical events, keyed by message: the normalize stage's output."""
        return f"{self.topic_prefix}.events"

    @property
    def alert_windows_topic(self) -> str:
        """Failure-rate windows keyed by alert series (rule, dimension, value)."""
        return f"{self.topic_prefix}.alerting.windows"

    def fact_topic(self, relation: str) -> str:
        return f"{self.topic_prefix}.facts.{relation}"

    def webhook_topic(self, provider: str, kind: str) -> str:
        return f"{self.topic_prefix}.webhooks.{provider}.{kind}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with a one-line message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        raise SettingsError(
            f"invalid setting {ENV_PREFIX}{field.upper()}: {error['msg']}"
            f" (got {error.get('input')!r})"
        ) from None
