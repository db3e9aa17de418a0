"""Check docker-compose.yml against the code: commands, options, settings, ports, topics.

No Docker engine runs where the tests run, so the compose file is checked by reading it:
every smsradar service's command must parse with the real click command (sub-command and
options exist), every ``SMSRADAR_*`` variable must be a Settings field with a valid value,
published ports must be the ports the services listen on, and the topics service must
create every topic the code reads or writes. ``problems`` returns what drifted, one line
each; an empty list means the file matches the code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml  # type: ignore[import-untyped]
from pydantic import ValidationError

from smsradar.cli import main as cli
from smsradar.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Compose's variable interpolation: ``${X}``, ``${X:-default}``, ``${X:?error}``, ``$$``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = environ.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return arg if unset else str(current)
        if op in ("?", ":?"):
            if unset:
                raise InterpolationError(f"${{{name}}} is required: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def load(path: Path = COMPOSE, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as compose sees it: YAML with anchors merged, variables set."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return dict(interpolate(document, environ or {}))


def env_names() -> dict[str, str]:
    """Environment variable name -> Settings field."""
    return {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _command(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return command.split()
    return [str(part) for part in command]


def is_smsradar(service: Mapping[str, Any]) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("smsradar")


def parse_command(argv: list[str]) -> tuple[click.Command, dict[str, Any]]:
    """Parse ``smsradar SUB [OPTIONS]`` with the real CLI, without running it."""
    if not argv or argv[0] != "smsradar":
        raise click.UsageError(f"command must start with 'smsradar': {argv}")
    if len(argv) < 2:
        raise click.UsageError("no sub-command")
    with click.Context(cli, info_name="smsradar") as parent:
        command = cli.get_command(parent, argv[1])
        if command is None:
            raise click.UsageError(f"no such command {argv[1]!r}")
        context = command.make_context(argv[1], list(argv[2:]), parent=parent)
        return command, dict(context.params)


def _container_ports(service: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(host, container) pairs of ``ports``."""
    pairs = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def _listen_port(name: str, params: Mapping[str, Any], settings: Settings) -> int | None:
    if name == "receiver":
        return int(params.get("port") or settings.receiver_port)
    if name == "dashboard":
        return int(params.get("port") or settings.dashboard_port)
    return None


def expected_topics(settings: Settings) -> set[str]:
    """Every topic smsradar reads or writes besides Faust's own (changelogs, assignor)."""
    from streams.app import webhook_topic_names
    from streams.topics import Topics

    topics = Topics.of(settings)
    names = {getattr(topics, field) for field in topics.__dataclass_fields__}
    return names | set(webhook_topic_names(settings)) | {settings.deadletter_topic}


def _created_topics(service: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    specs = _environment(service).get("TOPICS", "").split()
    created = {}
    for spec in specs:
        name, partitions, policy = spec.split(":")
        created[name] = (int(partitions), policy)
    return created


def container_settings(environment: Mapping[str, str]) -> Settings:
    """The settings a container with ``environment`` gets: read from its variables as the
    process reads them (an empty ``${X:-}`` is an empty value, not an absent one)."""
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
            del os.environ[name]
        os.environ.update({k: v for k, v in environment.items() if k.startswith(ENV_PREFIX)})
        return Settings(_env_file=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def problems(document: Mapping[str, Any]) -> list[str]:
    """What in ``document`` (a loaded compose file) disagrees with the code."""
    found: list[str] = []
    services: dict[str, Any] = dict(document.get("services") or {})
    known = env_names()
    settings_by_service: dict[str, Settings] = {}

    for name, service in services.items():
        environment = _environment(service)
        for variable in environment:
            if variable.startswith(ENV_PREFIX) and variable not in known:
                found.append(f"{name}: {variable} is not a setting (smsradar/settings.py)")
        if not is_smsradar(service):
            continue
        try:
            settings = container_settings(environment)
        except ValidationError as exc:
            found.append(f"{name}: invalid settings: {exc.errors()[0]['msg']} {exc.errors()[0]}")
            continue
        settings_by_service[name] = settings
        argv = _command(service)
        try:
            command, params = parse_command(argv)
        except click.ClickException as exc:
            found.append(f"{name}: command {argv} does not parse: {exc.format_message()}")
            continue
        port = _listen_port(command.name or "", params, settings)
        for host, container in _container_ports(service):
            if port is None:
                found.append(f"{name}: publishes {host}:{container} but listens on no port")
            elif container != port:
                found.append(f"{name}: publishes container port {container}, listens on {port}")
        health = " ".join(str(part) for part in (service.get("healthcheck") or {}).get("test", []))
        for url_port in re.findall(r"https?://[^/:'\"\s]+:(\d+)", health):
            if port is not None and int(url_port) != port:
                found.append(f"{name}: health check calls port {url_port}, listens on {port}")
        if command.name == "worker":
            if "container_name" in service:
                found.append(f"{name}: a fixed container_name prevents --scale {name}=N")
            if service.get("ports"):
                found.append(f"{name}: host ports prevent --scale {name}=N")
        bootstrap = settings.kafka_bootstrap
        if bootstrap is None:
            found.append(f"{name}: SMSRADAR_KAFKA_BOOTSTRAP unset: it would start Tansu")
        else:
            for host_port in bootstrap.split(","):
                broker_host = host_port.strip().split(":")[0]
                if broker_host not in services:
                    found.append(f"{name}: bootstrap host {broker_host!r} is no service")

    sinks = [n for n, s in services.items() if _command(s)[:2] == ["smsradar", "sink"]]
    if len(sinks) != 1:
        found.append(f"exactly one sink per analytics store, found {sinks}")
    for sink in sinks:
        if (services[sink].get("deploy") or {}).get("replicas", 1) != 1:
            found.append(f"{sink}: the sink must not be replicated")

    found += _topic_problems(services, settings_by_service)
    return found


def _topic_problems(
    services: Mapping[str, Any], settings_by_service: Mapping[str, Settings]
) -> list[str]:
    found: list[str] = []
    creators = [name for name, s in services.items() if "TOPICS" in _environment(s)]
    if len(creators) != 1:
        return [f"one service must create the topics (TOPICS=...), found {creators}"]
    created = _created_topics(services[creators[0]])
    seen: set[tuple[str, int]] = set()
    for name, settings in settings_by_service.items():
        key = (settings.topic_prefix, settings.topic_partitions)
        if key in seen:
            continue
        seen.add(key)
        copartitioned, compacted = topic_roles(settings)
        for topic in sorted(expected_topics(settings) - set(created)):
            found.append(f"{creators[0]}: does not create {topic!r}, which {name} uses")
        for topic in sorted(copartitioned & set(created)):
            partitions, _ = created[topic]
            if partitions != settings.topic_partitions:
                found.append(
                    f"{creators[0]}: {topic} has {partitions} partitions, but the worker's"
                    f" tables and re-keying need SMSRADAR_TOPIC_PARTITIONS="
                    f"{settings.topic_partitions}"
                )
        for topic in sorted(compacted & set(created)):
            if created[topic][1] != "compact":
                found.append(f"{creators[0]}: {topic} must be compacted (latest row per key)")
    return found


def topic_roles(settings: Settings) -> tuple[set[str], set[str]]:
    """(topics that must have SMSRADAR_TOPIC_PARTITIONS partitions, compacted topics)."""
    from streams.app import webhook_topic_names
    from streams.topics import Topics

    topics = Topics.of(settings)
    return {topics.events, *webhook_topic_names(settings)}, set(topics.facts)
