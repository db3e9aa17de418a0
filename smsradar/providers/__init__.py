"""The gateway adapters, by provider name.

Adding a gateway: write ``smsradar/providers/<name>.py`` building an ``Adapter`` (its
endpoints and pydantic schemas, ``normalize`` into canonical events, code meanings),
add it to ``ADAPTERS`` below, put its documented example payloads under
``tests/fixtures/<name>/`` and its tests under ``tests/providers/``. Routes, topics and the
OpenAPI description follow from this registry. An endpoint posted form-encoded says so
(``body_format="form"``); one whose gateway signs its requests gives a ``signature``
factory (settings -> check, or None while the secret is unset) and the receiver answers
401 to a request that fails it.
"""

from __future__ import annotations

from smsradar.providers import smsgate, smsgateway24, smstools, twilio
from smsradar.providers.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (smsgateway24.ADAPTER, smstools.ADAPTER, twilio.ADAPTER, smsgate.ADAPTER)
}


def adapter_for(name: str) -> Adapter:
    return ADAPTERS[name]
