"""Field types shared by provider schemas: ids and codes arrive as numbers or strings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints


def _status_code(value: str) -> str:
    if not value.isdigit():
        raise ValueError("must be a whole number")
    return str(int(value))  # "07" and 7 are the same code


# A provider id (``sms_id: 4711`` or ``"messageid": "e1qk…"``), kept as text.
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A numeric status/detail code, sent as a number or a string ("delivery_code": "1").
StatusCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_status_code)]
OptionalText = str | None


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
