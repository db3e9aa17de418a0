"""``smsradar bench``: measurements printed as JSON lines, each beside a baseline.

Our machines are shared and noisy, so every figure is reported with a baseline measured
in the same run on the same machine, and ``ratio = value / baseline``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return round(self.value / self.baseline, 4)

    def to_json(self) -> bytes:
        return orjson.dumps({**asdict(self), "ratio": self.ratio})


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
