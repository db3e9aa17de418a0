from __future__ import annotations

import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from smsradar.settings import Settings, SettingsError, load_settings


def test_defaults_work_on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMSRADAR_KAFKA_BOOTSTRAP", "SMSRADAR_KAFKA_IDEMPOTENCE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.embedded_broker
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.producer_idempotence is False  # the embedded broker cannot do it
    assert settings.webhook_topic("smstools", "inbox_message") == (
        "smsradar.webhooks.smstools.inbox_message"
    )


def test_external_kafka_turns_idempotence_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSRADAR_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.delenv("SMSRADAR_KAFKA_IDEMPOTENCE", raising=False)
    settings = load_settings()
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.producer_idempotence is True


def test_provider_zones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSRADAR_SMSTOOLS_TIMEZONE", "America/Sao_Paulo")
    settings = load_settings()
    assert settings.timezone_for("smstools") == ZoneInfo("America/Sao_Paulo")
    assert settings.timezone_for("a_gateway_without_setting") == ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSRADAR_MAX_BODY_BYTES", "lots"),
        ("SMSRADAR_RECEIVER_PORT", "70000"),
        ("SMSRADAR_SMSTOOLS_TIMEZONE", "Mars/Olympus"),
        ("SMSRADAR_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert variable in message
    assert "\n" not in message


def test_cli_exits_2_with_the_one_line_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smsradar", "receiver"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SMSRADAR_")},
            "SMSRADAR_RECEIVER_PORT": "not-a-port",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("smsradar: invalid setting SMSRADAR_RECEIVER_PORT")
    assert len(result.stderr.strip().splitlines()) == 1


def test_settings_are_frozen() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type is internal
        Settings().receiver_port = 1  # type: ignore[misc]
