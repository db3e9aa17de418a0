"""smsradar: live delivery analytics and failure alerts from SMS gateway webhooks.

This package is the shared home of everything the runtime parts (``receiver``,
``streams``, ``analytics``, ``dashboards``) have in common: settings, the canonical
event model, the gateway adapters, Kafka helpers, the embedded broker, the simulator
and the ``smsradar`` CLI that wires the parts together.
"""

__version__ = "0.1.0"
