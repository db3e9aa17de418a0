"""Destination country of a recipient number, via libphonenumber."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class CountryResolver:
    """ISO 3166 alpha-2 region of a number, or None when it is not a valid number."""

    def __init__(self, default_region: str) -> None:
        self.default_region = default_region
        self.resolve = lru_cache(maxsize=100_000)(self._resolve)

    def __call__(self, number: str | None) -> str | None:
        return self.resolve(number) if number else None

    def _resolve(self, number: str) -> str | None:
        digits = number.strip()
        candidates = [digits]
        if digits.isdigit() and not digits.startswith("0"):
            candidates.insert(0, f"+{digits}")  # international without the plus: "32470123456"
        for candidate in candidates:
            try:
                parsed = phonenumbers.parse(candidate, self.default_region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                region: str | None = phonenumbers.region_code_for_number(parsed)
                return region
        return None
