"""Shared fixtures: a real broker (embedded Tansu and/or Apache Kafka) and real processes."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsradar.broker import BrokerError, EmbeddedBroker, free_port
from smsradar.settings import Settings
from tests.support.accounting import PENDING_LINES
from tests.support.apache_kafka import KAFKA_VERSION, ApacheKafka, KafkaUnavailable
from tests.support.brokers import (
    BrokerChoiceError,
    BrokerUnderTest,
    brokers_under_test,
    describe_choice,
    idempotence_for,
    register,
    unregister,
)
from tests.support.processes import STARTED, ManagedProcess, http_ok, log_digest, smsradar_argv

FIXTURES = Path(__file__).parent / "fixtures"

try:
    BROKERS = brokers_under_test()
except BrokerChoiceError as exc:
    raise pytest.UsageError(str(exc)) from None

# For integration tests whose subject does not depend on the broker (HTTP parsing, the
# store's readers, our own processes' crashes): the first broker under test only (the
# embedded one when both run), which keeps CI within its time budget.
ON_FIRST_BROKER = pytest.mark.parametrize("broker", BROKERS[:1], indirect=True)


_FIRST_PROCESS = pytest.StashKey[int]()
ACCOUNTING = "accounting"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_FIRST_PROCESS] = len(STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report shows the errors and last lines of every process it started.

    The accounting lines of its call go into its call report, for the summary at the end.
    """
    report = yield
    if report.when != "call":
        return report
    report.user_properties.extend((ACCOUNTING, line) for line in PENDING_LINES)
    PENDING_LINES.clear()
    if report.failed:
        for process in STARTED[item.stash.get(_FIRST_PROCESS, len(STARTED)) :]:
            command = " ".join(process.argv[2:])
            report.sections.append((f"{command} (pid {process.pid})", log_digest(process)))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault tests' accounting lines, whatever -s, capture or xdist says."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == ACCOUNTING
    ]
    if lines:
        terminalreporter.section("accounting")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_report_header() -> str:
    header = describe_choice()
    return f"{header} (Apache Kafka {KAFKA_VERSION})" if "kafka" in BROKERS else header


@pytest.fixture(scope="session", params=BROKERS)
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerUnderTest]:
    """The broker of the tests: each test using it runs once per kind (ids [tansu], [kafka]).

    Tests are grouped by kind, so one broker runs at a time in each pytest process (each
    xdist worker starts its own). Apache Kafka that does not start fails the tests (with
    its log), it never skips them.
    """
    if request.param == "kafka":
        workdir = tmp_path_factory.mktemp("apache-kafka")
        kafka = ApacheKafka(workdir=workdir)
        failure = None
        try:
            kafka.start()
        except KafkaUnavailable as exc:
            failure = str(exc)
        if failure is not None:
            pytest.fail(f"Apache Kafka could not be started: {failure}", pytrace=False)
        running = BrokerUnderTest("kafka", kafka.bootstrap)
        register(running)
        yield running
        unregister(running)
        kafka.stop()
        shutil.rmtree(workdir / "data", ignore_errors=True)  # keep the logs, not the topics
        return
    embedded = EmbeddedBroker()
    failure = None
    try:
        embedded.start()
    except BrokerError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"the embedded broker could not be started: {failure}", pytrace=False)
    running = BrokerUnderTest("tansu", embedded.bootstrap)
    register(running)
    yield running
    unregister(running)
    embedded.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic namespace per test, so tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


def worker_app_id(topic_prefix: str) -> str:
    """The Faust app id (consumer group, changelog prefix) of the test's workers and sink."""
    return f"{topic_prefix}-streams"


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

    def start(bootstrap: str, port: int | None = None, **env: str) -> RunningReceiver:
        # A given port: a restarted receiver where its gateways (the simulator) post.
        port = port or free_port()
        variables = {
            "SMSRADAR_KAFKA_BOOTSTRAP": bootstrap,
            "SMSRADAR_KAFKA_IDEMPOTENCE": idempotence_for(bootstrap),
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
def receiver(broker: BrokerUnderTest, start_receiver: ReceiverFactory) -> RunningReceiver:
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
            "SMSRADAR_KAFKA_IDEMPOTENCE": idempotence_for(bootstrap),
            "SMSRADAR_TOPIC_PREFIX": topic_prefix,
            "SMSRADAR_APP_ID": worker_app_id(topic_prefix),
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
            "SMSRADAR_KAFKA_IDEMPOTENCE": idempotence_for(bootstrap),
            "SMSRADAR_TOPIC_PREFIX": topic_prefix,
            "SMSRADAR_APP_ID": worker_app_id(topic_prefix),
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
