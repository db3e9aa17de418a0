"""Deterministic generation of gateway traffic and its ground truth (no I/O here).

Messages start at ``start + i / message_rate``; each has a lifecycle of status webhooks
with log-normal latencies. Webhooks are posted in event-time order, except that a few are
held back (out of order) and a few posted twice (a gateway retrying, after the first
attempt was answered).

Twilio's callbacks carry no event time: the pipeline stamps them with their arrival, so
their truth is only known once posted. ``TrafficGenerator.apply_arrivals`` sets the times
of Twilio events from the receiver's ``received_at`` of each accepted post.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

import phonenumbers

from smsradar.model import ErrorCategory, Status
from smsradar.providers import smsgate, smsgateway24, smstools, twilio
from smsradar.simulator.truth import InboundTruth, MessageTruth, TruthEvent

STATUS_ROUTE = "/webhooks/smsgateway24/status"
INCOMING_ROUTE = "/webhooks/smsgateway24/incoming"
SMSTOOLS_ROUTE = "/webhooks/smstools"
TWILIO_ROUTE = twilio.ROUTE
SMSGATE_ROUTE = smsgate.ROUTE

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
# (MessageStatus, ErrorCode): "failed" never reached the carrier, so it has no "sent".
TWILIO_FAILURES: tuple[tuple[str, str], ...] = (
    ("undelivered", "30003"),
    ("undelivered", "30005"),
    ("undelivered", "30006"),
    ("undelivered", "30007"),
    ("undelivered", "30008"),
    ("failed", "30034"),
    ("failed", "21610"),
    ("failed", "30001"),
)
TWILIO_ACCOUNT = "AC" + "5e1f" * 8
TWILIO_SENDER = "+15017250604"  # the account's number: outbound From, inbound To
TWILIO_SERVICE = "MG" + "0d1c" * 8
# sms-gate.app phones, each in its own local zone (its times carry that offset).
SMSGATE_DEVICES: dict[str, timezone] = {
    "ffffffffceb0b1db0000018e937c815b": timezone(timedelta(hours=7)),
    "ffffffffa1d2c3b40000019011aa22cc": timezone(timedelta(hours=2)),
    "ffffffff5e6f7a8b00000191ccdd3344": timezone(timedelta(hours=-3)),
}
# sms:failed before sending (the phone could not) and after (no delivery).
SMSGATE_SEND_FAILURES = (
    "RESULT_ERROR_RADIO_OFF",
    "RESULT_ERROR_NO_SERVICE",
    "RESULT_ERROR_NULL_PDU",
    "RESULT_ERROR_LIMIT_EXCEEDED",
)
SMSGATE_DELIVERY_FAILURES = ("RESULT_ERROR_GENERIC_FAILURE", "RESULT_NETWORK_REJECT", None)
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
    # Off unless asked for (with_all_gateways), so a seed's traffic stays what it was.
    twilio_share: float = 0.0
    smsgate_share: float = 0.0
    inbound_share: float = 0.08  # inbound SMS per outbound message
    duplicate_rate: float = 0.02
    reorder_rate: float = 0.05
    invalid_rate: float = 0.0
    spikes: tuple[Spike, ...] = ()
    smsgateway24_zone: str = "UTC"
    smstools_zone: str = "Europe/Brussels"

    def with_all_gateways(self) -> TrafficConfig:
        """A fleet of all four gateways, as ``smsradar simulate`` posts: 30% Smstools, 20%
        Twilio, 20% sms-gate.app, the rest SMSGateway24."""
        return replace(self, smstools_share=0.3, twilio_share=0.2, smsgate_share=0.2)


@dataclass(order=True)
class Webhook:
    """One request to post: when (simulated seconds from start), where, what."""

    due_s: float
    sequence: int
    route: str = field(compare=False)
    body: Any = field(compare=False)  # JSON-able (form fields for "form"), or raw bytes
    objects: int = field(compare=False, default=1)
    valid: bool = field(compare=False, default=True)
    body_format: Literal["json", "form"] = field(compare=False, default="json")
    retried: bool = field(compare=False, default=False)  # a retry of it follows
    retry_of: int | None = field(compare=False, default=None)  # the sequence it retries


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
        # Twilio truth to re-time by arrival: (index in messages or inbound, the webhook
        # sequence of each truth event, in order).
        self._twilio_messages: list[tuple[int, list[int]]] = []
        self._twilio_inbound: list[tuple[int, int]] = []

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

    def apply_arrivals(self, arrivals: Mapping[int, datetime]) -> None:
        """Time Twilio's events by their arrival: ``arrivals`` maps a webhook's sequence to
        the ``received_at`` the receiver answered its accepted post with."""
        for position, sequences in self._twilio_messages:
            truth = self.messages[position]
            events = [
                replace(event, at=arrivals.get(sequence, event.at))
                for event, sequence in zip(truth.history, sequences, strict=True)
            ]
            self.messages[position] = MessageTruth.of(
                truth.provider,
                truth.message_id,
                truth.device_id,
                truth.sim,
                truth.recipient,
                truth.recipient_country,
                events,
            )
        for position, sequence in self._twilio_inbound:
            inbound = self.inbound[position]
            self.inbound[position] = replace(
                inbound, received_at=arrivals.get(sequence, inbound.received_at)
            )

    # -- one message -----------------------------------------------------------------------

    def _message(self, index: int, started_s: float) -> list[Webhook]:
        rnd = self.random
        country = rnd.choice(COUNTRIES)
        recipient = rnd.choice(self._numbers[country])
        draw = rnd.random()
        twilio_upto = self.config.smstools_share + self.config.twilio_share
        if draw < self.config.smstools_share:
            truth, webhooks = self._smstools_message(index, started_s, recipient, country)
        elif draw < twilio_upto:
            truth, webhooks = self._twilio_message(index, started_s, recipient, country)
        elif draw < twilio_upto + self.config.smsgate_share:
            truth, webhooks = self._smsgate_message(index, started_s, recipient, country)
        else:
            truth, webhooks = self._sgw24_message(index, started_s, recipient, country)
        self.messages.append(truth)
        if rnd.random() < self.config.inbound_share:
            at_s = started_s + rnd.uniform(1, 30)
            new_share = self.config.twilio_share + self.config.smsgate_share
            if new_share and rnd.random() < new_share:
                webhooks.append(self._new_gateway_inbound(index, at_s))
            else:
                webhooks.append(self._inbound(index, at_s))
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

    def _twilio_message(
        self, index: int, t: float, recipient: str, country: str
    ) -> tuple[MessageTruth, list[Webhook]]:
        rnd = self.random
        sid = f"SM{self.config.seed:08x}{index:024x}"
        steps: list[tuple[str, str | None, float]] = []
        if rnd.random() < 0.5:  # sent through a Messaging Service: "accepted" first
            steps.append(("accepted", None, t))
            t += self._latency(0.3)
        steps.append(("queued", None, t))
        t += self._latency(0.5)
        steps.append(("sending", None, t))
        outcome_s = t + self._latency(4.0)
        if self._fails("twilio", None, None, country, outcome_s):
            failure, failure_code = rnd.choice(TWILIO_FAILURES)
            if failure == "undelivered":  # it reached the carrier first
                t += self._latency(1.0)
                steps.append(("sent", None, t))
            steps.append((failure, failure_code, max(outcome_s, t)))
        else:
            t += self._latency(1.0)
            steps.append(("sent", None, t))
            steps.append(("delivered", None, max(outcome_s, t)))
        events: list[TruthEvent] = []
        webhooks = []
        for status_name, error_code, at_s in steps:
            status = twilio.STATUSES[status_name]
            category = twilio.ERROR_CATEGORIES[error_code] if error_code else None
            at = self._at(at_s)  # a stand-in until the post's arrival time is known
            events.append(TruthEvent(status_name, status, at, category, error_code))
            fields = {
                "AccountSid": TWILIO_ACCOUNT,
                "ApiVersion": "2010-04-01",
                "From": TWILIO_SENDER,
                "MessageSid": sid,
                "MessageStatus": status_name,
                "SmsSid": sid,
                "SmsStatus": status_name,
                "To": recipient,
            }
            if steps[0][0] == "accepted":
                fields["MessagingServiceSid"] = TWILIO_SERVICE
            if error_code:
                fields["ErrorCode"] = error_code
            if status_name in ("delivered", "undelivered"):
                fields["RawDlrDoneDate"] = at.strftime("%y%m%d%H%M")
            webhooks.append(self._webhook(at_s, TWILIO_ROUTE, fields, body_format="form"))
        self._twilio_messages.append((len(self.messages), [w.sequence for w in webhooks]))
        truth = MessageTruth.of("twilio", sid, None, None, recipient, country, events)
        return truth, webhooks

    def _smsgate_message(
        self, index: int, t: float, recipient: str, country: str
    ) -> tuple[MessageTruth, list[Webhook]]:
        rnd = self.random
        device = rnd.choice(list(SMSGATE_DEVICES))
        sim = rnd.choice(("1", "2", None))
        message_id = f"sg{self.config.seed:x}-{index:010d}"
        t += self._latency(1.0)  # from the API request to the phone sending it
        outcome_s = t + self._latency(5.0)
        steps: list[tuple[str, str | None, float]] = []
        if self._fails("smsgate", device, sim, country, outcome_s):
            if rnd.random() < 0.5:
                steps.append(("sms:failed", rnd.choice(SMSGATE_SEND_FAILURES), t))
            else:
                steps.append(("sms:sent", None, t))
                steps.append(("sms:failed", rnd.choice(SMSGATE_DELIVERY_FAILURES), outcome_s))
        else:
            steps.append(("sms:sent", None, t))
            steps.append(("sms:delivered", None, outcome_s))
        events: list[TruthEvent] = []
        webhooks = []
        for event_name, reason, at_s in steps:
            status = smsgate.STATUS_EVENTS[event_name]
            category: ErrorCategory | None = None
            if status.is_failure:
                category = (
                    smsgate.REASON_CATEGORIES[reason] if reason else ErrorCategory.UNSPECIFIED
                )
            at = self._at(at_s)
            events.append(TruthEvent(event_name, status, at, category, reason))
            payload: dict[str, Any] = {
                "messageId": message_id,
                "phoneNumber": recipient,
                "simNumber": int(sim) if sim else None,
                smsgate.TIME_FIELDS[event_name]: self._smsgate_time(at, device),
            }
            if event_name == "sms:failed":
                payload["reason"] = reason
            webhooks.append(
                self._webhook(at_s, SMSGATE_ROUTE, self._smsgate_event(device, event_name, payload))
            )
        truth = MessageTruth.of("smsgate", message_id, device, sim, recipient, country, events)
        return truth, webhooks

    def _new_gateway_inbound(self, index: int, at_s: float) -> Webhook:
        """An incoming SMS through Twilio or sms-gate.app, in proportion to their shares."""
        rnd = self.random
        at = self._at(at_s)
        sender = rnd.choice(self._numbers[rnd.choice(COUNTRIES)])
        total = self.config.twilio_share + self.config.smsgate_share
        if rnd.random() < self.config.twilio_share / total:
            sid = f"SM{self.config.seed:08x}{900_000_000 + index:024x}"
            fields = {
                "AccountSid": TWILIO_ACCOUNT,
                "ApiVersion": "2010-04-01",
                "Body": "STOP",
                "From": sender,
                "MessageSid": sid,
                "NumMedia": "0",
                "NumSegments": "1",
                "SmsMessageSid": sid,
                "SmsSid": sid,
                "SmsStatus": "received",
                "To": TWILIO_SENDER,
            }
            self._twilio_inbound.append((len(self.inbound), self._sequence + 1))
            self.inbound.append(
                InboundTruth("twilio", sid, sender, TWILIO_SENDER, None, None, at, None)
            )
            return self._webhook(at_s, TWILIO_ROUTE, fields, body_format="form")
        device = rnd.choice(list(SMSGATE_DEVICES))
        sim = rnd.choice(("1", "2"))
        message_id = f"{self.config.seed:x}in{index:08x}"
        payload = {
            "messageId": message_id,
            "message": "YES",
            "phoneNumber": sender,
            "simNumber": int(sim),
            "receivedAt": self._smsgate_time(at, device),
        }
        self.inbound.append(
            InboundTruth("smsgate", message_id, sender, None, device, sim, at, None)
        )
        body = self._smsgate_event(device, "sms:received", payload)
        return self._webhook(at_s, SMSGATE_ROUTE, body)

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

    def _smsgate_event(self, device: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "deviceId": device,
            "event": event,
            "id": f"ev{self.config.seed:x}-{self._sequence + 1}",
            "payload": payload,
            "webhookId": f"wh-{event}",
        }

    @staticmethod
    def _smsgate_time(at: datetime, device: str) -> str:
        return at.astimezone(SMSGATE_DEVICES[device]).isoformat(timespec="milliseconds")

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

    def _webhook(
        self,
        at_s: float,
        route: str,
        body: Any,
        valid: bool = True,
        body_format: Literal["json", "form"] = "json",
    ) -> Webhook:
        self._sequence += 1
        objects = len(body) if isinstance(body, list) else 1
        return Webhook(at_s, self._sequence, route, body, objects, valid, body_format)

    def _disorder(self, webhooks: list[Webhook]) -> list[Webhook]:
        """Hold some back (out of order) and post some twice (gateway retries)."""
        result = []
        for webhook in webhooks:
            if self.random.random() < self.config.reorder_rate:
                webhook.due_s += self.random.uniform(5, 60)
            result.append(webhook)
            if webhook.valid and self.random.random() < self.config.duplicate_rate:
                self._sequence += 1
                webhook.retried = True
                result.append(
                    Webhook(
                        webhook.due_s + self.random.uniform(0.5, 20),
                        self._sequence,
                        webhook.route,
                        webhook.body,
                        webhook.objects,
                        body_format=webhook.body_format,
                        retry_of=webhook.sequence,
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
