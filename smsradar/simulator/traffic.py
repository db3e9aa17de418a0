"""Deterministic generation of gateway traffic and its ground truth (no I/O here).

Messages start at ``start + i / message_rate``; each has a lifecycle of status webhooks
with log-normal latencies. Webhooks are posted in event-time order, except that a few are
held back (out of order) and a few posted twice (a gateway retrying).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from smsradar.model import ErrorCategory, Status
from smsradar.providers import smsgateway24, smstools
from smsradar.simulator.truth import InboundTruth, MessageTruth, TruthEvent

STATUS_ROUTE = "/webhooks/smsgateway24/status"
INCOMING_ROUTE = "/webhooks/smsgateway24/incoming"
SMSTOOLS_ROUTE = "/webhooks/smstools"

DEVICES = ("1001", "1002", "1003", "1004", "1005", "1006")
COUNTRIES = ("BE", "NL", "DE", "FR", "BR", "IN")
# Baseline failure probabilities, so breakdowns differ by device, SIM and country.
DEVICE_FAILURE = {"1005": 0.12, "1003": 0.06}
SIM_FAILURE = {("1002", "1"): 0.10}
COUNTRY_FAILURE = {"IN": 0.09, "BR": 0.05}
BASE_FAILURE = 0.03
SGW24_FAILURES = ("8", "9", "10", "11", "12", "100", "101")
SMSTOOLS_FAILURES: tuple[tuple[str, str | None], ...] = (
    ("2", "11"),
    ("2", "13"),
    ("2", None),
    ("4", "10"),
    ("4", "15"),
    ("4", "18"),
    ("5", "2003"),
    ("5", "2006"),
    ("5", "4006"),
)
WEBHOOKS_PER_MESSAGE = 4.0  # average, to turn a webhook rate into a message rate


@dataclass(frozen=True)
class Spike:
    """Messages whose ``dimension`` is ``value`` and whose outcome falls in [start_s, end_s)
    of simulated time fail with probability ``failure_rate``."""

    dimension: str
    value: str
    failure_rate: float
    start_s: float
    end_s: float


def parse_spike(text: str) -> Spike:
    """``device=1003,rate=0.6,from=60,to=180`` (seconds of simulated time)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"spike part {part!r} is not key=value")
        fields[key.strip()] = value.strip()
    dimensions = [k for k in fields if k in ("device", "sim", "country", "provider")]
    if len(dimensions) != 1:
        raise ValueError("a spike names exactly one of device=, sim=, country=, provider=")
    try:
        spike = Spike(
            dimensions[0],
            fields[dimensions[0]],
            float(fields.get("rate", "0.5")),
            float(fields.get("from", "0")),
            float(fields.get("to", "inf")),
        )
    except ValueError as exc:
        raise ValueError(f"spike {text!r}: {exc}") from None
    if not 0 <= spike.failure_rate <= 1 or spike.end_s <= spike.start_s:
        raise ValueError(f"spike {text!r}: need 0 <= rate <= 1 and from < to")
    return spike


@dataclass(frozen=True)
class TrafficConfig:
    seed: int = 1
    rate: float = 20.0  # webhooks per second of simulated time
    messages: int | None = None  # stop after this many outbound messages
    start: datetime | None = None  # simulated clock start (default: now, whole seconds)
    smstools_share: float = 0.4
    inbound_share: float = 0.08  # inbound SMS per outbound message
    duplicate_rate: float = 0.02
    reorder_rate: float = 0.05
    invalid_rate: float = 0.0
    spikes: tuple[Spike, ...] = ()
    smsgateway24_zone: str = "UTC"
    smstools_zone: str = "Europe/Brussels"


@dataclass(order=True)
class Webhook:
    """One request to post: when (simulated seconds from start), where, what."""

    due_s: float
    sequence: int
    route: str = field(compare=False)
    body: Any = field(compare=False)  # JSON-able, or bytes for a malformed request
    objects: int = field(compare=False, default=1)
    valid: bool = field(compare=False, default=True)


class TrafficGenerator:
    def __init__(self, config: TrafficConfig) -> None:
        self.config = config
        self.random = random.Random(config.seed)
        self.start = config.start or datetime.now(UTC).replace(microsecond=0)
        self.message_rate = config.rate / WEBHOOKS_PER_MESSAGE
        self.messages: list[MessageTruth] = []
        self.inbound: list[InboundTruth] = []
        self._sequence = 0
        self._numbers = {country: self._number_pool(country) for country in COUNTRIES}
        self._sgw24_zone = ZoneInfo(config.smsgateway24_zone)
        self._smstools_zone = ZoneInfo(config.smstools_zone)
        self._smstools_ids: list[str] = []

    # -- public --------------------------------------------------------------------------

    def webhooks(self) -> Iterator[Webhook]:
        """Webhooks in posting order, endless unless ``messages`` is set."""
        pending: list[Webhook] = []
        index = 0
        while self.config.messages is None or index < self.config.messages:
            started_s = index / self.message_rate
            while pending and pending[0].due_s <= started_s:
                yield heapq.heappop(pending)
            for webhook in self._message(index, started_s):
                heapq.heappush(pending, webhook)
            index += 1
        while pending:
            yield heapq.heappop(pending)

    # -- one message -----------------------------------------------------------------------

    def _message(self, index: int, started_s: float) -> list[Webhook]:
        rnd = self.random
        country = rnd.choice(COUNTRIES)
        recipient = rnd.choice(self._numbers[country])
        if rnd.random() < self.config.smstools_share:
            truth, webhooks = self._smstools_message(index, started_s, recipient, country)
        else:
            truth, webhooks = self._sgw24_message(index, started_s, recipient, country)
        self.messages.append(truth)
        if rnd.random() < self.config.inbound_share:
            webhooks.append(self._inbound(index, started_s + rnd.uniform(1, 30)))
        if rnd.random() < self.config.invalid_rate * WEBHOOKS_PER_MESSAGE:
            webhooks.append(self._invalid(started_s))
        return self._disorder(webhooks)

    def _fails(
        self, provider: str, device: str | None, sim: str | None, country: str, outcome_s: float
    ) -> bool:
        probability = max(
            BASE_FAILURE,
            DEVICE_FAILURE.get(device or "", 0),
            SIM_FAILURE.get((device or "", sim or ""), 0),
            COUNTRY_FAILURE.get(country, 0),
        )
        values = {
            "device": device,
            "sim": f"{device}/{sim}",
            "country": country,
            "provider": provider,
        }
        for spike in self.config.spikes:
            if values.get(spike.dimension) == spike.value and (
                spike.start_s <= outcome_s < spike.end_s
            ):
                probability = spike.failure_rate
        return self.random.random() < probability

    def _latency(self, median_s: float, sigma: float = 0.8) -> float:
        return self.random.lognormvariate(0, sigma) * median_s

    def _at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=int(seconds))

    def _sgw24_message(
        self, index: int, t: float, recipient: str, country: str
    ) -> tuple[MessageTruth, list[Webhook]]:
        rnd = self.random
        device = rnd.choice(DEVICES)
        sim = rnd.choice(("0", "1"))
        sms_id = str(100_000 + index)
        use_channel_id = rnd.random() < 0.3
        steps: list[tuple[str, float]] = [("1", t)]
        t += self._latency(0.5)
        steps.append(("3", t))
        t += self._latency(1.0)
        steps.append(("2", t))
        outcome_s = t + self._latency(5.0)
        if self._fails("smsgateway24", device, sim, country, outcome_s):
            code = rnd.choice(SGW24_FAILURES)
            if code == "8":  # not delivered: it was sent first
                steps.append(("6", t + self._latency(1.0)))
            steps.append((code, max(outcome_s, steps[-1][1])))
        else:
            t += self._latency(1.0)
            steps.append(("6", t))
            steps.append(("7", max(outcome_s, t)))
        events: list[TruthEvent] = []
        webhooks = []
        for code, at_s in steps:
            status, category = smsgateway24.STATUS_CODES[code]
            at = self._at(at_s)
            events.append(TruthEvent(code, status, at, category, None))
            body: dict[str, Any] = {
                "sms_id": int(sms_id),
                "status_id": code if rnd.random() < 0.2 else int(code),
                "status_message": smsgateway24.CODE_MEANINGS[f"status_id:{code}"],
                "sendto": recipient,
                "senttime": at.astimezone(self._sgw24_zone).strftime("%Y-%m-%d %H:%M:%S"),
                "device_id": int(device),
            }
            body["channel_id" if use_channel_id else "sim"] = int(sim)
            webhooks.append(self._webhook(at_s, STATUS_ROUTE, body))
        truth = MessageTruth.of("smsgateway24", sms_id, device, sim, recipient, country, events)
        return truth, webhooks

    def _smstools_message(
        self, index: int, t: float, recipient: str, country: str
    ) -> tuple[MessageTruth, list[Webhook]]:
        rnd = self.random
        message_id = f"st{self.config.seed:x}n{index:08d}"
        self._smstools_ids.append(message_id)
        steps: list[tuple[str, str | None, float]] = [("0", None, t)]
        if rnd.random() < 0.2:
            t += self._latency(2.0)
            steps.append(("3", None, t))
        outcome_s = t + self._latency(6.0)
        read_s: float | None = None
        if rnd.random() < 0.01:
            steps.append(("9", None, outcome_s))
        elif self._fails("smstools", None, None, country, outcome_s):
            code, detail = rnd.choice(SMSTOOLS_FAILURES)
            steps.append((code, detail, outcome_s))
        else:
            steps.append(("1", None, outcome_s))
            if rnd.random() < 0.2:
                read_s = outcome_s + self._latency(30.0)
        events: list[TruthEvent] = []
        webhooks = []
        for code, detail, at_s in steps:
            status = smstools.DELIVERY_CODES[code]
            category: ErrorCategory | None = None
            if status.is_failure:
                category = (
                    smstools.DETAIL_CATEGORIES[detail] if detail else ErrorCategory.UNSPECIFIED
                )
            at = self._at(at_s)
            events.append(TruthEvent(code, status, at, category, detail))
            message: dict[str, Any] = {
                "messageid": message_id,
                "datetime": self._smstools_time(at),
                "sender": "smsradar",
                "receiver": recipient.lstrip("+"),
                "reference": f"ref-{index}",
                "delivery_code": code,
                "delivery_status": status.value,
            }
            if detail:
                message["delivery_code_detail"] = detail
            webhooks.append(self._smstools_webhook(at_s, "delivery_report", message))
        if read_s is not None:
            at = self._at(read_s)
            events.append(TruthEvent("message_read", Status.READ, at, None, None))
            message = {
                "messageid": message_id,
                "datetime": self._smstools_time(self._at(outcome_s)),
                "receiver": recipient.lstrip("+"),
                "delivery_code": "1",
                "delivery_status": "delivered",
                "read_status": "message_read",
                "read_datetime": self._smstools_time(at),
            }
            webhooks.append(self._smstools_webhook(read_s, "read_report", message))
        truth = MessageTruth.of("smstools", message_id, None, None, recipient, country, events)
        return truth, webhooks

    def _inbound(self, index: int, at_s: float) -> Webhook:
        rnd = self.random
        at = self._at(at_s)
        sender = rnd.choice(self._numbers[rnd.choice(COUNTRIES)])
        if rnd.random() < 0.5 or not self._smstools_ids:
            device, sim = rnd.choice(DEVICES), rnd.choice(("0", "1"))
            sms_id = str(900_000 + index)
            body: dict[str, Any] = {
                "address": int(sender.lstrip("+")) if rnd.random() < 0.5 else sender,
                "date": at.astimezone(self._sgw24_zone).strftime("%Y-%m-%d %H:%M:%S"),
                "date_sent": (at - timedelta(seconds=2))
                .astimezone(self._sgw24_zone)
                .strftime("%Y-%m-%d %H:%M:%S"),
                "body": "OK",
                "internal_id": index,
                "sms_id": int(sms_id),
                "device_id": int(device),
                "device_name": f"phone-{device}",
            }
            if rnd.random() < 0.5:
                body.update(channel_id=int(sim), type=rnd.choice(("text", "img")))
                if body["type"] == "img":
                    body["img_url"] = f"https://example.invalid/{sms_id}.jpg"
            else:
                body["sim"] = int(sim)
            self.inbound.append(
                InboundTruth("smsgateway24", sms_id, sender, None, device, sim, at, None)
            )
            return self._webhook(at_s, INCOMING_ROUTE, body)
        inbox_id = f"in{self.config.seed:x}n{index:08d}"
        reply_to = rnd.choice(self._smstools_ids) if rnd.random() < 0.6 else None
        message = {
            "id": inbox_id,
            "date": self._smstools_time(at),
            "sender": sender.lstrip("+"),
            "receiver": "3278000000",
            "content": "STOP",
            "type": "sms",
        }
        item: dict[str, Any] = {
            "webhook_id": f"wh-{inbox_id}",
            "webhook_type": "inbox_message",
            "username": "smsradar",
            "message": message,
        }
        if reply_to:
            item["isreply"] = {"reply": True, "orig_messageid": reply_to}
        self.inbound.append(
            InboundTruth("smstools", inbox_id, sender, "+3278000000", None, None, at, reply_to)
        )
        return self._webhook(at_s, SMSTOOLS_ROUTE, [item])

    def _invalid(self, at_s: float) -> Webhook:
        if self.random.random() < 0.5:
            return self._webhook(at_s, STATUS_ROUTE, b'{"sms_id": 1, "status_id":', valid=False)
        return self._webhook(at_s, STATUS_ROUTE, {"status_id": 7}, valid=False)

    # -- helpers -------------------------------------------------------------------------

    def _smstools_time(self, at: datetime) -> str:
        return at.astimezone(self._smstools_zone).strftime("%Y-%m-%d %H:%M:%S")

    def _smstools_webhook(self, at_s: float, kind: str, message: dict[str, Any]) -> Webhook:
        item = {
            "webhook_id": f"wh{self._sequence}",
            "webhook_type": kind,
            "username": "smsradar",
            "message": message,
        }
        return self._webhook(at_s, SMSTOOLS_ROUTE, [item])

    def _webhook(self, at_s: float, route: str, body: Any, valid: bool = True) -> Webhook:
        self._sequence += 1
        objects = len(body) if isinstance(body, list) else 1
        return Webhook(at_s, self._sequence, route, body, objects, valid)

    def _disorder(self, webhooks: list[Webhook]) -> list[Webhook]:
        """Hold some back (out of order) and post some twice (gateway retries)."""
        result = []
        for webhook in webhooks:
            if self.random.random() < self.config.reorder_rate:
                webhook.due_s += self.random.uniform(5, 60)
            result.append(webhook)
            if webhook.valid and self.random.random() < self.config.duplicate_rate:
                self._sequence += 1
                result.append(
                    Webhook(
                        webhook.due_s + self.random.uniform(0.5, 20),
                        self._sequence,
                        webhook.route,
                        webhook.body,
                        webhook.objects,
                    )
                )
        return result

    def _number_pool(self, country: str) -> list[str]:
        example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            raise ValueError(f"libphonenumber has no example mobile number for {country}")
        national = str(example.national_number)
        pool = []
        for _ in range(200):
            tail = f"{self.random.randrange(1000):03d}"
            candidate = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}")
            if phonenumbers.is_valid_number(candidate):
                pool.append(
                    phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
                )
            if len(pool) == 40:
                break
        return pool or [phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)]
