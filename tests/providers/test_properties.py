"""For any JSON at all, an adapter gives canonical events or a validation error, nothing else."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smsradar.model import CanonicalEvent
from smsradar.providers import ADAPTERS
from smsradar.providers.base import Endpoint, WebhookValidationError
from tests.providers.conftest import envelope_for, load_fixture

ENDPOINTS: list[tuple[str, Endpoint]] = [
    (adapter.name, endpoint) for adapter in ADAPTERS.values() for endpoint in adapter.endpoints
]
ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Europe/Brussels"), ZoneInfo("Asia/Kolkata")])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            " ",
            "0",
            "7",
            "5",
            "2019-01-01 00:00:00",
            "0000-00-00 00:00:00",
            "9999-12-31 23:59:59",
            "1",
            "true",
            "-3",
            "1e400",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

# Field names the adapters read, so mutations reach the validators and normalizers.
KNOWN_FIELDS = [
    "sms_id",
    "status_id",
    "status_message",
    "sendto",
    "senttime",
    "sim",
    "channel_id",
    "device_id",
    "address",
    "date",
    "date_sent",
    "body",
    "internal_id",
    "type",
    "img_url",
    "webhook_type",
    "message",
    "isreply",
    "messageid",
    "datetime",
    "delivery_code",
    "delivery_code_detail",
    "read_datetime",
    "read_status",
    "id",
    "receiver",
    "sender",
    "reply",
    "orig_messageid",
    "content",
    # Twilio (form fields)
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "From",
    "To",
    "Body",
    # sms-gate.app
    "deviceId",
    "event",
    "payload",
    "messageId",
    "phoneNumber",
    "simNumber",
    "sentAt",
    "deliveredAt",
    "failedAt",
    "receivedAt",
    "reason",
]
ENDPOINT_BY_PATH = {endpoint.path: target for target in ENDPOINTS for endpoint in [target[1]]}
# (documented example, the endpoint it is posted to)
SEEDS = [
    (load_fixture("smsgateway24", "status_seed"), "/webhooks/smsgateway24/status"),
    (load_fixture("smsgateway24", "status_channel_id"), "/webhooks/smsgateway24/status"),
    (load_fixture("smsgateway24", "incoming_seed"), "/webhooks/smsgateway24/incoming"),
    (load_fixture("smsgateway24", "incoming_channel_img"), "/webhooks/smsgateway24/incoming"),
    (load_fixture("smstools", "delivery_report_seed"), "/webhooks/smstools"),
    (load_fixture("smstools", "read_report_seed"), "/webhooks/smstools"),
    (load_fixture("smstools", "inbox_message_seed"), "/webhooks/smstools"),
    (load_fixture("smstools", "rejected_extended_batch"), "/webhooks/smstools"),
    (load_fixture("twilio", "status_sent_docs"), "/webhooks/twilio"),
    (load_fixture("twilio", "status_undelivered_30003"), "/webhooks/twilio"),
    (load_fixture("twilio", "incoming_message_docs"), "/webhooks/twilio"),
    (load_fixture("smsgate", "sent"), "/webhooks/smsgate"),
    (load_fixture("smsgate", "failed"), "/webhooks/smsgate"),
    (load_fixture("smsgate", "received_docs"), "/webhooks/smsgate"),
]


@st.composite
def mutated_seeds(draw: st.DrawFn) -> tuple[Any, tuple[str, Endpoint]]:
    """A documented example with some fields replaced, removed or added, at any depth."""

    def mutate(value: Any, depth: int) -> Any:
        if isinstance(value, list):
            return [mutate(item, depth + 1) for item in value]
        if not isinstance(value, dict):
            return value
        result = {}
        for key, item in value.items():
            action = draw(st.sampled_from(["keep"] * 6 + ["replace", "drop", "recurse", "recurse"]))
            if action == "replace":
                result[key] = draw(json_values)
            elif action == "recurse" or action == "keep":
                result[key] = mutate(item, depth + 1)
        for key in draw(st.lists(st.sampled_from(KNOWN_FIELDS), max_size=3)):
            result[key] = draw(json_values)
        return result

    body, path = draw(st.sampled_from(SEEDS))
    return mutate(body, 0), ENDPOINT_BY_PATH[path]


def _check(provider: str, endpoint: Endpoint, body: Any, zone: ZoneInfo) -> None:
    try:
        webhooks = endpoint.parse(body)
    except WebhookValidationError as exc:
        event("rejected")
        assert exc.errors and all(error.loc and error.msg for error in exc.errors)
        return
    if not webhooks:  # only a heartbeat is accepted with nothing to publish
        assert isinstance(body, dict) and body.get("event") == "system:ping"
        event("heartbeat")
        return
    event("accepted")
    adapter = ADAPTERS[provider]
    for index, webhook in enumerate(webhooks):
        assert webhook.kind in adapter.kinds
        assert webhook.message_id
        # Whatever the receiver accepted, the stream can turn into canonical events.
        events = adapter.normalize(envelope_for(provider, webhook, index), zone)
        assert events and all(isinstance(e, CanonicalEvent) for e in events)
        assert all(e.message_id == webhook.message_id for e in events)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values, target=st.sampled_from(ENDPOINTS), zone=ZONES)
def test_arbitrary_json(body: Any, target: tuple[str, Endpoint], zone: ZoneInfo) -> None:
    _check(*target, body, zone)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(example=mutated_seeds(), zone=ZONES)
def test_mutated_documented_examples(
    example: tuple[Any, tuple[str, Endpoint]], zone: ZoneInfo
) -> None:
    body, target = example
    _check(*target, body, zone)
