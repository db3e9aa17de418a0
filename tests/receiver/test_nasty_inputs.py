"""Hand-picked nasty bodies against the real receiver: each gets a 4xx with a reason or is
accepted; never a 5xx, never a dropped connection, and the receiver stays healthy.

Field-level nasties are applied to every field of every seed fixture of every route (SQL
and HTML in strings, timestamps in years 1 and 9999, integers past 2^63, huge floats);
body-level ones (deep nesting, 10 MB, invalid UTF-8, NaN/Infinity, empty arrays, 100,000
objects) to every route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import FIXTURES, RunningReceiver

pytestmark = pytest.mark.integration

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

STRINGS = [
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "",
    "\u0000\ud7ff\ufffd",
    "x" * 10_000,
]
NUMBERS = [2**63, 2**70, -(2**70), 1e308, -0.0, 253402300800, -62135596801]


@dataclass(frozen=True)
class Case:
    label: str
    route: str
    content_type: str
    body: bytes


def _routes() -> dict[str, list[Path]]:
    routes: dict[str, list[Path]] = {}
    for path in sorted(FIXTURES.glob("*/*.json")):
        provider = path.parent.name
        if provider == "smsgateway24":
            kind = "status" if "status" in path.stem else "incoming"
            route = f"/webhooks/smsgateway24/{kind}"
        else:
            route = f"/webhooks/{provider}"
        routes.setdefault(route, []).append(path)
    return routes


def _objects(body: Any) -> list[dict[str, Any]]:
    return body if isinstance(body, list) else [body]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _encode(body: Any, content_type: str) -> bytes:
    if content_type == FORM:
        return urlencode({k: str(v) for k, v in body.items()}).encode()
    return json.dumps(body).encode()


def _field_cases(route: str, path: Path) -> Iterator[Case]:
    body = json.loads(path.read_text())
    content_type = FORM if route == "/webhooks/twilio" else JSON
    for leaf, _ in _leaves(body):
        news: list[Any] = list(STRINGS)
        if content_type == JSON:
            news += [*NUMBERS, None, [], {}, True]
        for new in news:
            label = f"{path.parent.name}/{path.stem} {'.'.join(map(str, leaf))}={str(new)[:30]!r}"
            yield Case(
                label, route, content_type, _encode(_replaced(body, leaf, new), content_type)
            )


def _body_cases(route: str) -> Iterator[Case]:
    content_type = FORM if route == "/webhooks/twilio" else JSON
    nested = b"[" * 100_000 + b"]" * 100_000
    bodies = {
        "deep nesting": nested,
        "deep object nesting": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "10 MB": b'{"sms_id": "' + b"x" * 10_000_000 + b'"}',
        "invalid UTF-8": b'{"sms_id": "\xff\xfe\xfd", "status_id": 1}',
        "NaN": b'{"sms_id": NaN, "status_id": 1}',
        "Infinity": b'{"sms_id": 1, "status_id": Infinity}',
        "huge integer literal": b'{"sms_id": 1' + b"0" * 400 + b', "status_id": 1}',
        "empty array": b"[]",
        "empty object": b"{}",
        "100,000 empty objects": b"[" + b",".join([b"{}"] * 100_000) + b"]",
        "100,000 numbers": b"[" + b",".join([b"1"] * 100_000) + b"]",
        "null": b"null",
        "a string": b'"status"',
        "empty body": b"",
        "truncated": b'{"sms_id": 1, "status_',
        "BOM": b'\xef\xbb\xbf{"sms_id": 1}',
        "just under the body limit": b'{"sms_id": "' + b"x" * (1024 * 1024 - 20) + b'"}',
    }
    if content_type == FORM:
        bodies |= {
            "form: invalid UTF-8": b"MessageSid=SM1&MessageStatus=\xff\xfe",
            "form: 100,000 fields": "&".join(f"f{i}=1" for i in range(100_000)).encode(),
            "form: percent garbage": b"MessageSid=%zz%&&&==&MessageStatus=%",
        }
    for label, body in bodies.items():
        yield Case(f"{route} {label}", route, content_type, body)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for route, paths in _routes().items():
        cases += _body_cases(route)
        for path in paths:
            cases += _field_cases(route, path)
    return cases


def test_nasty_bodies_get_a_4xx_with_a_reason_or_are_accepted(
    receiver: RunningReceiver,
) -> None:
    cases = _cases()
    statuses: dict[int, int] = {}
    failures: list[str] = []
    with httpx.Client(timeout=60) as client:
        for case in cases:
            try:
                response = client.post(
                    receiver.route(case.route),
                    content=case.body,
                    headers={"content-type": case.content_type},
                )
            except httpx.HTTPError as exc:
                failures.append(f"{case.label}: no answer ({exc!r})")
                continue
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 202:
                continue
            if not 400 <= response.status_code < 500:
                failures.append(f"{case.label}: {response.status_code} {response.text[:200]}")
                continue
            answer = response.json()
            if not answer.get("error") or not answer.get("detail"):
                failures.append(f"{case.label}: {response.status_code} without a reason: {answer}")
        health = client.get(receiver.route("/healthz"))
    print(f"nasty inputs: {len(cases)} cases, statuses {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:40])
    assert health.status_code == 200
