"""Error-code meanings for the failure breakdown, from the gateway adapters (which hold
the tables of the providers' webhook documents)."""

from __future__ import annotations

from smsradar.providers import ADAPTERS


def meaning(provider: str, status: str, detail: str | None = None) -> str:
    adapter = ADAPTERS.get(provider)
    described = adapter.describe_code(status, detail) if adapter else None
    return described or "not in the provider's documentation"


def code_label(status: str, detail: str | None = None) -> str:
    """How the raw code reads in a table: '10' or, with a detail code, '5 / 2003'."""
    return status if detail is None else f"{status} / {detail}"
