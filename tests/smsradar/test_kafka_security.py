"""The Kafka connection settings reach every client: aiokafka's and the Faust worker's."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from smsradar.kafka import client_options
from smsradar.settings import Settings, SettingsError, load_settings
from streams.app import create_app

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap="k1:9093,k2:9093", **values)


def faust_options(config: Settings, tmp_path: Path) -> dict[str, Any]:
    app = create_app(config.model_copy(update={"data_dir": tmp_path}))
    return dict(credentials_to_aiokafka_auth(app.conf.broker_credentials))


CASES = [
    pytest.param({}, "PLAINTEXT", None, id="plaintext"),
    pytest.param({"kafka_security_protocol": "SSL"}, "SSL", None, id="ssl"),
    pytest.param(
        {
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "PLAIN",
            "kafka_sasl_username": "smsradar",
            "kafka_sasl_password": "pa55",
        },
        "SASL_PLAINTEXT",
        "PLAIN",
        id="sasl-plaintext",
    ),
    pytest.param(
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": "smsradar",
            "kafka_sasl_password": "pa55",
        },
        "SASL_SSL",
        "SCRAM-SHA-512",
        id="sasl-ssl-scram",
    ),
]


@pytest.mark.parametrize(("values", "protocol", "mechanism"), CASES)
def test_clients_and_the_worker_connect_alike(
    values: dict[str, Any], protocol: str, mechanism: str | None, tmp_path: Path
) -> None:
    config = settings(**values)
    ours = client_options(config)
    assert ours["bootstrap_servers"] == "k1:9093,k2:9093"
    assert ours["security_protocol"] == protocol
    assert ours.get("sasl_mechanism") == mechanism
    if mechanism:
        assert ours["sasl_plain_username"] == "smsradar"
        assert ours["sasl_plain_password"] == "pa55"
    assert isinstance(ours.get("ssl_context"), ssl.SSLContext) == protocol.endswith("SSL")

    faust = faust_options(config, tmp_path)
    assert faust.get("security_protocol", "PLAINTEXT") == protocol
    assert faust.get("sasl_mechanism") == mechanism
    if mechanism:
        assert faust["sasl_plain_username"] == "smsradar"
        assert faust["sasl_plain_password"] == "pa55"
    assert isinstance(faust.get("ssl_context"), ssl.SSLContext) == protocol.endswith("SSL")


@pytest.mark.skipif(not CA.exists(), reason="no CA bundle on this machine")
def test_the_ca_file_is_loaded_into_the_tls_context() -> None:
    with_ca = client_options(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=CA))
    context = with_ca["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_a_missing_ca_file_fails_at_start() -> None:
    with pytest.raises(FileNotFoundError):
        client_options(
            settings(kafka_security_protocol="SSL", kafka_ssl_cafile=Path("/nonexistent/ca.pem"))
        )


def test_the_password_is_never_shown() -> None:
    config = settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN", kafka_sasl_password="pa55"
    )
    assert "pa55" not in repr(config) and "pa55" not in str(config.model_dump())


def test_environment_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SMSRADAR_KAFKA_BOOTSTRAP": "k:9092",
        "SMSRADAR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SMSRADAR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "SMSRADAR_KAFKA_SASL_USERNAME": "u",
        "SMSRADAR_KAFKA_SASL_PASSWORD": "p",
        "SMSRADAR_KAFKA_SSL_CAFILE": str(CA),
    }.items():
        monkeypatch.setenv(name, value)
    config = Settings(_env_file=None)
    assert config.kafka_security_protocol == "SASL_SSL"
    assert config.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert config.kafka_sasl_username == "u"
    assert config.kafka_sasl_password is not None
    assert config.kafka_sasl_password.get_secret_value() == "p"
    assert config.kafka_ssl_cafile == CA
    assert config.producer_idempotence  # on by default against a real Kafka


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"SMSRADAR_KAFKA_SASL_MECHANISM": "PLAIN"},
            "SMSRADAR_KAFKA_SASL_MECHANISM: Value error, a SASL mechanism needs"
            " SMSRADAR_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT, not PLAINTEXT",
        ),
        (
            {"SMSRADAR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "SMSRADAR_KAFKA_SASL_MECHANISM: Value error,"
            " SMSRADAR_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs a mechanism",
        ),
    ],
)
def test_a_mechanism_without_a_sasl_protocol_is_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    """Else the worker (Faust) would speak SASL and the receiver and sink would not."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="invalid setting") as raised:
        load_settings(_env_file=None)
    assert message in str(raised.value)
