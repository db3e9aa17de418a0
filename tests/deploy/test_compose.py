"""docker-compose.yml and the Dockerfile match the code (no Docker engine needed).

The checker runs on the real file (it must find nothing) and on mutated copies (it must
find each drift), so a renamed setting, command, option, port or topic fails here.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smsradar.settings import Settings
from tests.deploy.compose_check import (
    COMPOSE,
    ROOT,
    InterpolationError,
    expected_topics,
    interpolate,
    load,
    parse_command,
    problems,
)

ENVIRON = {"SMSRADAR_WEBHOOK_TOKEN": "compose-test-token"}


@pytest.fixture
def compose() -> dict[str, Any]:
    return load(COMPOSE, ENVIRON)


def mutated(document: dict[str, Any], service: str, **changes: Any) -> dict[str, Any]:
    copy_ = copy.deepcopy(document)
    copy_["services"][service].update(changes)
    return copy_


def with_env(document: dict[str, Any], service: str, **variables: str) -> dict[str, Any]:
    copy_ = copy.deepcopy(document)
    environment = dict(copy_["services"][service]["environment"])
    environment.update(variables)
    copy_["services"][service]["environment"] = environment
    return copy_


def test_the_compose_file_matches_the_code(compose: dict[str, Any]) -> None:
    assert problems(compose) == []


def test_it_runs_every_part(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: service.get("command", [])[:2] for name, service in services.items()}
    for part in ("receiver", "worker", "sink", "dashboard"):
        assert ["smsradar", part] in commands.values(), f"no service runs smsradar {part}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "kafka-data:/var/lib/kafka/data" in services["kafka"]["volumes"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # the sink and the dashboard share the analytics store; the workers keep their own state
    store = {v.split(":")[0] for v in services["sink"]["volumes"]}
    assert store & {v.split(":")[0] for v in services["dashboard"]["volumes"]}
    assert not store & {v.split(":")[0] for v in services["worker"].get("volumes", [])}
    assert set(compose["volumes"]) >= {"kafka-data", *store}
    for name in ("receiver", "kafka"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    assert "/healthz" in str(services["receiver"]["healthcheck"]["test"])
    assert "/readyz" in str(services["receiver"]["healthcheck"]["test"])


def test_the_webhook_token_is_required() -> None:
    with pytest.raises(InterpolationError, match="SMSRADAR_WEBHOOK_TOKEN"):
        load(COMPOSE, {})


@pytest.mark.parametrize(
    ("service", "variable", "value", "expected"),
    [
        ("receiver", "SMSRADAR_KAFKA_BOOTSTRAPS", "kafka:9092", "is not a setting"),
        ("worker", "SMSRADAR_TABLESTORE", "rocksdb://", "is not a setting"),
        ("sink", "SMSRADAR_RETENTION_DAYS", "-1", "invalid settings"),
        ("worker", "SMSRADAR_TABLE_STORE", "redis://", "invalid settings"),
        ("receiver", "SMSRADAR_KAFKA_BOOTSTRAP", "broker:9092", "is no service"),
        # what `${SMSRADAR_RECEIVER_PUBLIC_URL:-}` gives when unset: empty, not absent
        ("receiver", "SMSRADAR_RECEIVER_PUBLIC_URL", "", "invalid settings"),
        ("receiver", "SMSRADAR_RATE_LIMIT_BURST", "", "invalid settings"),
    ],
)
def test_a_drifted_variable_is_found(
    compose: dict[str, Any], service: str, variable: str, value: str, expected: str
) -> None:
    found = problems(with_env(compose, service, **{variable: value}))
    assert any(expected in line and service in line for line in found), found


@pytest.mark.parametrize(
    ("service", "command", "expected"),
    [
        ("worker", ["smsradar", "workers"], "no such command"),
        ("sink", ["python", "-m", "smsradar", "sink"], "must start with 'smsradar'"),
        ("receiver", ["smsradar", "receiver", "--listen", "0.0.0.0"], "No such option"),
        ("receiver", ["smsradar", "receiver", "--port", "http"], "not a valid integer"),
        ("dashboard", ["smsradar", "dashboard", "--port", "8502"], "listens on 8502"),
        ("receiver", ["smsradar", "receiver", "--host", "0.0.0.0"], None),
    ],
)
def test_a_drifted_command_is_found(
    compose: dict[str, Any], service: str, command: list[str], expected: str | None
) -> None:
    found = problems(mutated(compose, service, command=command))
    if expected is None:  # the default port (8080) is what the file publishes: fine
        assert found == []
    else:
        assert any(expected in line and service in line for line in found), found


def test_drifted_ports_are_found(compose: dict[str, Any]) -> None:
    found = problems(mutated(compose, "receiver", ports=["8080:9090"]))
    assert any("publishes container port 9090, listens on 8080" in line for line in found)
    healthcheck = copy.deepcopy(compose["services"]["receiver"]["healthcheck"])
    healthcheck["test"] = [part.replace(":8080", ":8081") for part in healthcheck["test"]]
    found = problems(mutated(compose, "receiver", healthcheck=healthcheck))
    assert any("health check calls port 8081" in line for line in found), found


def test_a_worker_that_cannot_scale_is_found(compose: dict[str, Any]) -> None:
    found = problems(mutated(compose, "worker", container_name="worker", ports=["6066:6066"]))
    assert any("container_name" in line for line in found), found
    assert any("host ports" in line for line in found), found


def test_a_second_sink_is_found(compose: dict[str, Any]) -> None:
    twice = copy.deepcopy(compose)
    twice["services"]["sink-2"] = copy.deepcopy(twice["services"]["sink"])
    assert any("exactly one sink" in line for line in problems(twice))


def test_topics_match_the_code(compose: dict[str, Any]) -> None:
    topics_env = compose["services"]["topics"]["environment"]["TOPICS"]
    created = {spec.split(":")[0] for spec in topics_env.split()}
    assert expected_topics(Settings(_env_file=None, topic_prefix="smsradar")) <= created

    renamed = topics_env.replace("smsradar.events:", "smsradar.event:")
    found = problems(with_env(compose, "topics", TOPICS=renamed))
    assert any("does not create 'smsradar.events'" in line for line in found), found

    found = problems(with_env(compose, "worker", SMSRADAR_TOPIC_PREFIX="sms"))
    assert any("does not create 'sms.events'" in line for line in found), found

    found = problems(with_env(compose, "worker", SMSRADAR_TOPIC_PARTITIONS="6"))
    assert any("need SMSRADAR_TOPIC_PARTITIONS=6" in line for line in found), found

    loose = topics_env.replace(
        "smsradar.facts.messages:12:compact", "smsradar.facts.messages:12:delete"
    )
    found = problems(with_env(compose, "topics", TOPICS=loose))
    assert any("facts.messages must be compacted" in line for line in found), found


def test_interpolation_follows_compose() -> None:
    environ = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET}-$${SHELL}", environ) == "x--${SHELL}"
    assert interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", environ) == "d  d"
    with pytest.raises(InterpolationError):
        interpolate("${EMPTY:?needed}", environ)


def test_commands_parse_with_the_real_cli() -> None:
    command, params = parse_command(["smsradar", "receiver", "--host", "0.0.0.0", "--port", "1"])
    assert command.name == "receiver" and params["port"] == 1


def test_the_dockerfile_installs_smsradar_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert lines[[i for i, line in enumerate(lines) if line.startswith("FROM")][-1]] == (
        "FROM python:3.11-slim"
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("pip install" in line and " ." in line for line in lines)
    for package in ("smsradar", "receiver", "streams", "analytics", "dashboards"):
        assert f"COPY {package} ./{package}" in lines, f"the image lacks {package}/"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".cache", "data", ".git"} <= set(ignored)


def test_files_read_at_run_time_are_installed_by_pip() -> None:
    """Non-Python files in the packages must be package data, or the image lacks them."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data: dict[str, list[str]] = pyproject["tool"]["setuptools"].get("package-data", {})
    for package in ("smsradar", "receiver", "streams", "analytics", "dashboards"):
        base = ROOT / package
        for path in base.rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(base)
            patterns = package_data.get(package, []) + package_data.get("*", [])
            assert any(relative.match(pattern) for pattern in patterns), (
                f"{path.relative_to(ROOT)} is not in [tool.setuptools.package-data]"
            )


@pytest.mark.skipif(
    shutil.which("docker") is None, reason="no docker client here: the parse above stands in"
)
def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    plugin = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    if plugin.returncode != 0:
        pytest.skip("docker has no compose plugin here")
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **ENVIRON},
    )
    assert done.returncode == 0, done.stderr
