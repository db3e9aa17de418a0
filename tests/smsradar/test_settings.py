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


# -- security settings ---------------------------------------------------------------


def test_a_gateways_own_token_replaces_the_global_one_for_it_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMSRADAR_WEBHOOK_TOKEN", "global-token")
    monkeypatch.setenv("SMSRADAR_TWILIO_WEBHOOK_TOKEN", "twilio-token")
    settings = load_settings()
    tokens = {
        provider: token.get_secret_value() if token else None
        for provider in ("smsgateway24", "smstools", "twilio", "smsgate")
        for token in [settings.webhook_token_for(provider)]
    }
    assert tokens == {
        "smsgateway24": "global-token",
        "smstools": "global-token",
        "twilio": "twilio-token",
        "smsgate": "global-token",
    }
    assert "twilio-token" not in repr(settings) and "global-token" not in repr(settings)


def test_a_gateways_own_token_works_without_a_global_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMSRADAR_WEBHOOK_TOKEN", raising=False)
    monkeypatch.setenv("SMSRADAR_SMSTOOLS_WEBHOOK_TOKEN", "smstools-token")
    settings = load_settings()
    own = settings.webhook_token_for("smstools")
    assert own is not None and own.get_secret_value() == "smstools-token"
    assert settings.webhook_token_for("smsgateway24") is None
    assert settings.webhook_token_for("a_gateway_without_setting") is None


@pytest.mark.parametrize(
    "variable",
    [
        "SMSRADAR_WEBHOOK_TOKEN",
        "SMSRADAR_SMSGATEWAY24_WEBHOOK_TOKEN",
        "SMSRADAR_SMSTOOLS_WEBHOOK_TOKEN",
        "SMSRADAR_TWILIO_WEBHOOK_TOKEN",
        "SMSRADAR_SMSGATE_WEBHOOK_TOKEN",
        "SMSRADAR_BODY_HASH_KEY",
    ],
)
def test_an_empty_secret_is_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    # `VAR=` is what a compose file's ${VAR:-} gives: it must not become the secret "".
    monkeypatch.setenv("SMSRADAR_WEBHOOK_TOKEN", "global-token")
    monkeypatch.setenv(variable, "")
    settings = load_settings()
    field = variable.removeprefix("SMSRADAR_").lower()
    assert getattr(settings, field) is None
    if variable != "SMSRADAR_WEBHOOK_TOKEN" and "WEBHOOK_TOKEN" in variable:
        # an empty per-gateway token falls back to the global one, never to "no token"
        provider = field.removesuffix("_webhook_token")
        token = settings.webhook_token_for(provider)
        assert token is not None and token.get_secret_value() == "global-token"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("127.0.0.1", ("127.0.0.1/32",)),
        (" 10.0.0.0/8 , 192.168.1.10,::1 ", ("10.0.0.0/8", "192.168.1.10/32", "::1/128")),
        ("fd00::/8,", ("fd00::/8",)),
    ],
)
def test_trusted_proxies_are_comma_separated_networks(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SMSRADAR_TRUSTED_PROXIES", value)
    assert tuple(str(n) for n in load_settings().trusted_proxies) == expected


def test_no_proxy_is_trusted_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSRADAR_TRUSTED_PROXIES", raising=False)
    assert load_settings().trusted_proxies == ()


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("10.0.0.0/8, proxy.internal", "'proxy.internal'"),
        ("10.0.0.1/8", "'10.0.0.1/8'"),  # host bits set: 10.0.0.0/8 or 10.0.0.1 meant?
        ("300.1.1.1", "'300.1.1.1'"),
        ("*", "'*'"),
    ],
)
def test_a_bad_trusted_proxy_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str, named: str
) -> None:
    monkeypatch.setenv("SMSRADAR_TRUSTED_PROXIES", value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "SMSRADAR_TRUSTED_PROXIES" in message and named in message, message
    assert "IP address or network" in message
    assert "\n" not in message


def test_rate_limit_is_off_by_default_and_its_burst_one_seconds_worth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SMSRADAR_RATE_LIMIT_PER_S", "SMSRADAR_RATE_LIMIT_BURST"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().rate_limit_per_s == 0
    monkeypatch.setenv("SMSRADAR_RATE_LIMIT_PER_S", "2.5")
    assert load_settings().rate_limit_capacity == 3
    monkeypatch.setenv("SMSRADAR_RATE_LIMIT_PER_S", "0.2")
    assert load_settings().rate_limit_capacity == 1
    monkeypatch.setenv("SMSRADAR_RATE_LIMIT_BURST", "50")
    assert load_settings().rate_limit_capacity == 50


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSRADAR_RATE_LIMIT_PER_S", "-1"),
        ("SMSRADAR_RATE_LIMIT_BURST", "0"),
        ("SMSRADAR_RATE_LIMIT_SOURCES", "0"),
        ("SMSRADAR_REQUEST_TIMEOUT_S", "0"),
        ("SMSRADAR_STORE_MESSAGE_BODIES", "perhaps"),
    ],
)
def test_bad_security_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_message_texts_are_not_stored_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMSRADAR_STORE_MESSAGE_BODIES", "SMSRADAR_BODY_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.store_message_bodies, settings.body_hash_key) == (False, None)
    assert settings.request_timeout_s == 10
