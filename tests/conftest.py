"""Shared fixtures: a real embedded broker and real receiver processes."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsradar.broker import EmbeddedBroker, free_port
from smsradar.settings import Settings
from tests.support.processes import ManagedProcess, http_ok, smsradar_argv

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic namespace per test, so tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class RunningReceiver:
    url: str
    settings: Settings
    process: ManagedProcess

    def route(self, path: str) -> str:
        return f"{self.url}{path}"


ReceiverFactory = Callable[..., RunningReceiver]


@pytest.fixture
def start_receiver(tmp_path: Path, topic_prefix: str) -> Iterator[ReceiverFactory]:
    """Start ``smsradar receiver`` processes; every one is stopped by PID after the test."""
    started: list[ManagedProcess] = []
    counter = itertools.count()

    def start(bootstrap: str, **env: str) -> RunningReceiver:
        port = free_port()
        variables = {
            "SMSRADAR_KAFKA_BOOTSTRAP": bootstrap,
            "SMSRADAR_KAFKA_IDEMPOTENCE": "false",
            "SMSRADAR_TOPIC_PREFIX": topic_prefix,
            "SMSRADAR_DATA_DIR": str(tmp_path / "data"),
            "SMSRADAR_LOG_FORMAT": "text",
            **env,
        }
        process = ManagedProcess(
            smsradar_argv("receiver", "--port", str(port)),
            variables,
            tmp_path / f"receiver-{next(counter)}.log",
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        process.wait_until(lambda: http_ok(f"{url}/healthz"), 30, "receiver /healthz")
        settings = Settings(
            kafka_bootstrap=bootstrap,
            topic_prefix=topic_prefix,
            receiver_port=port,
            data_dir=tmp_path / "data",
        )
        return RunningReceiver(url, settings, process)

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def receiver(broker: EmbeddedBroker, start_receiver: ReceiverFactory) -> RunningReceiver:
    running = start_receiver(broker.bootstrap)
    running.process.wait_until(lambda: http_ok(running.route("/readyz")), 30, "receiver /readyz")
    return running


WorkerFactory = Callable[..., ManagedProcess]


@pytest.fixture
def start_worker(tmp_path: Path, topic_prefix: str) -> Iterator[WorkerFactory]:
    """Start ``smsradar worker`` processes (one consumer group per test); stopped by PID."""
    started: list[ManagedProcess] = []
    counter = itertools.count()

    def start(bootstrap: str, *args: str, **env: str) -> ManagedProcess:
        number = next(counter)
        variables = {
            "SMSRADAR_KAFKA_BOOTSTRAP": bootstrap,
            "SMSRADAR_KAFKA_IDEMPOTENCE": "false",
            "SMSRADAR_TOPIC_PREFIX": topic_prefix,
            "SMSRADAR_APP_ID": f"{topic_prefix}-streams",
            # one folder per worker process: RocksDB stores must not be shared
            "SMSRADAR_DATA_DIR": str(tmp_path / f"worker-data-{env.pop('slot', number)}"),
            "SMSRADAR_LOG_FORMAT": "text",
            **env,
        }
        process = ManagedProcess(
            smsradar_argv("worker", *args), variables, tmp_path / f"worker-{number}.log"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_sink(tmp_path: Path, topic_prefix: str) -> Iterator[WorkerFactory]:
    """Start ``smsradar sink`` processes writing the test's store; stopped by PID."""
    started: list[ManagedProcess] = []
    counter = itertools.count()

    def start(bootstrap: str, **env: str) -> ManagedProcess:
        variables = {
            "SMSRADAR_KAFKA_BOOTSTRAP": bootstrap,
            "SMSRADAR_KAFKA_IDEMPOTENCE": "false",
            "SMSRADAR_TOPIC_PREFIX": topic_prefix,
            "SMSRADAR_APP_ID": f"{topic_prefix}-streams",
            "SMSRADAR_DATA_DIR": str(tmp_path / "data"),
            "SMSRADAR_LOG_FORMAT": "text",
            **env,
        }
        process = ManagedProcess(
            smsradar_argv("sink"), variables, tmp_path / f"sink-{next(counter)}.log"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
