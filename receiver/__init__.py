"""The webhook receiver: authenticates, validates and publishes gateway webhooks to Kafka.

It answers 202 only after the broker acknowledged every record of the request.
"""

from receiver.app import create_app

__all__ = ["create_app"]
