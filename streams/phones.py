"""Phone numbers as facts show them: E.164 where valid, and their country (libphonenumber).

Gateways write the same number as ``+32470123456``, ``32470123456`` or the integer
``32470123456``; facts carry one spelling so a search or a join finds all of them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import phonenumbers


class PhoneNumber(NamedTuple):
    number: str | None  # E.164 when valid, else as sent
    country: str | None  # ISO 3166 alpha-2 region, None when not a valid number


class PhoneNumbers:
    def __init__(self, default_region: str) -> None:
        self.default_region = default_region
        self._cached = lru_cache(maxsize=100_000)(self._parse)

    def __call__(self, raw: str | None) -> PhoneNumber:
        return self._cached(raw.strip()) if raw else PhoneNumber(raw, None)

    def _parse(self, raw: str) -> PhoneNumber:
        candidates = [raw]
        if raw.isdigit() and not raw.startswith("0"):
            candidates.insert(0, f"+{raw}")  # international without the plus: "32470123456"
        for candidate in candidates:
            try:
                parsed = phonenumbers.parse(candidate, self.default_region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return PhoneNumber(
                    phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                    phonenumbers.region_code_for_number(parsed),
                )
        return PhoneNumber(raw, None)
