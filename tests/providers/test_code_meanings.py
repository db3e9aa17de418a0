"""Code meanings (from the seed documents) as the dashboard looks them up."""

from __future__ import annotations

import pytest

from smsradar.providers import ADAPTERS


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_documented_code_can_be_described(name: str) -> None:
    adapter = ADAPTERS[name]
    fields = {adapter.status_code_field, adapter.detail_code_field}
    for key in adapter.code_meanings:
        field, code = key.split(":", 1)  # codes may hold ":" ("event:sms:sent")
        assert field in fields, f"{key}: describe_code cannot reach it"
        status = code if field == adapter.status_code_field else "no such status"
        detail = code if field == adapter.detail_code_field else None
        assert adapter.code_meanings[key] in (adapter.describe_code(status, detail) or "")


def test_descriptions() -> None:
    smsgateway24, smstools = ADAPTERS["smsgateway24"], ADAPTERS["smstools"]
    assert smsgateway24.describe_code("12") == "Not sent: radio off"
    assert smsgateway24.describe_code("100", "ignored") == (
        "Not sent: not allowed (the app lacks SMS permission)"
    )
    assert smstools.describe_code("2") == (
        "Not delivered (out of coverage, network problem, abroad)"
    )
    assert smstools.describe_code("5", "2003") == "Rejected, see the extended detail code: Timeout"
    assert smstools.describe_code("77", "11") == (
        "Recipient temporarily out of the operator's coverage"
    )
    assert smstools.describe_code("77") is None
    twilio, smsgate = ADAPTERS["twilio"], ADAPTERS["smsgate"]
    assert twilio.describe_code("undelivered", "30003") == (
        "Not delivered (carrier delivery receipt), see ErrorCode: Unreachable destination handset"
    )
    assert smsgate.describe_code("sms:failed", "RESULT_ERROR_RADIO_OFF") == (
        "Not sent, or not delivered; see the reason: Radio off"
    )
