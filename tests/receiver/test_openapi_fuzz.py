"""Schemathesis against the real receiver, from the receiver's own OpenAPI document.

Requests are generated from ``GET /openapi.json`` for every documented operation, both
schema-valid (positive) and schema-violating (negative): schemathesis's coverage phase
(its deterministic boundary cases: missing and wrong-typed fields, unexpected methods and
content types) and then its Hypothesis strategies. Each is sent over HTTP to a
``smsradar receiver`` process publishing to the real broker. Every answer must be no 5xx,
a documented status code, of a documented content type, with documented headers and a body
matching the documented schema; the receiver must log no traceback and stay ready.

The test prints how many requests it sent per route and per status, and fails if it sent
too few, so it cannot silently test nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.conftest import ON_FIRST_BROKER, RunningReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Hypothesis examples per operation and mode, after the coverage phase's cases: about
# 1,400 requests, ~20 s per broker on a 2-core machine.
MAX_EXAMPLES = 100
MIN_REQUESTS = 1_000  # in all (1,399 here); fewer means generation silently stopped working
MIN_PER_OPERATION = 3  # a GET without parameters has only a few distinct cases
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,  # another method than the documented one: 405 with Allow
]


def _fuzz(strategy: SearchStrategy[Case[Any]], send: Callable[[Case[Any]], None]) -> None:
    # No shrinking and no example database: every case is sent once and every failure
    # collected, so one run reports them all with a curl command each.
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        send(case)

    run()


def operation_inputs(operation: APIOperation[Any, Any, Any, Any]) -> int:
    return len(list(operation.iter_parameters())) + len(operation.body)


@ON_FIRST_BROKER
def test_generated_requests_get_documented_answers(receiver: RunningReceiver) -> None:
    # from_dict, not from_url: from_url leaves out the operation serving the document.
    document = httpx.get(receiver.route("/openapi.json"), timeout=10).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(document)
    statuses: Counter[int] = Counter()
    per_route: dict[str, Counter[int]] = {}
    per_mode: Counter[tuple[str, str]] = Counter()
    refused_positive = accepted_negative = 0
    failures: list[str] = []
    session = requests.Session()

    def send(case: Case[Any], mode: GenerationMode, phase: str) -> None:
        nonlocal refused_positive, accepted_negative
        label = f"{case.operation.label} ({mode.value}, {phase})"
        try:
            response = case.call(base_url=receiver.url, session=session, timeout=30)
        except requests.RequestException as exc:
            failures.append(f"{label}: no answer: {exc!r}\n{case.as_curl_command()}")
            return
        status = response.status_code
        statuses[status] += 1
        per_route.setdefault(case.operation.label, Counter())[status] += 1
        per_mode[(case.operation.label, mode.value)] += 1
        refused_positive += mode is GenerationMode.POSITIVE and status == 422
        accepted_negative += mode is GenerationMode.NEGATIVE and status == 202
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            failures.append(f"{label}: {exc}")

    started = time.monotonic()
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation of /openapi.json is unusable: {result.err()}"
        operations.append(result.ok())
    for operation in operations:
        for mode in MODES:
            config = schema.config.generation_for(operation=operation, phase="coverage")
            for case in schema.iter_coverage_cases(
                operation, generation_modes=[mode], generation_config=config
            ):
                send(case, mode, "coverage")
            if mode is GenerationMode.NEGATIVE and not operation_inputs(operation):
                continue  # nothing to violate (the GET routes take no input)
            strategy = operation.as_strategy(generation_mode=mode)
            _fuzz(strategy, partial(send, mode=mode, phase="fuzzing"))
    elapsed = time.monotonic() - started

    total = statuses.total()
    by_status = ", ".join(f"{code}: {n:,}" for code, n in sorted(statuses.items()))
    print(f"\nschemathesis: {total:,} requests in {elapsed:.1f} s; {by_status}")
    for route, counts in sorted(per_route.items()):
        modes = ", ".join(f"{mode.value} {per_mode[(route, mode.value)]:,}" for mode in MODES)
        answers = ", ".join(f"{code}: {n:,}" for code, n in sorted(counts.items()))
        print(f"  {route}: {counts.total():,} ({modes}); {answers}")
    # Not failures: the document's request schemas are looser than validation (cross-field
    # rules, per-kind Smstools messages, status codes that must be whole numbers), and
    # the models accept numbers where the document says string.
    print(
        f"  schema-valid requests answered 422: {refused_positive:,}; "
        f"schema-violating requests accepted: {accepted_negative:,}"
    )

    assert not failures, f"{len(failures)} of {total} requests:\n" + "\n".join(failures[:20])
    assert total >= MIN_REQUESTS, f"only {total} requests generated"
    for operation in operations:
        sent = per_route.get(operation.label, Counter()).total()
        assert sent >= MIN_PER_OPERATION, f"{operation.label}: only {sent} requests"
    assert statuses[202] > 0, "no generated webhook was accepted"
    assert sum(n for code, n in statuses.items() if 400 <= code < 500) > 0
    assert "Traceback" not in receiver.process.output()
    assert httpx.get(receiver.route("/readyz"), timeout=10).status_code == 200
