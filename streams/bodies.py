"""What the pipeline keeps of a message's text: its length, a keyed hash, the text on request.

Adapters read the text (``CanonicalEvent.body``) without seeing any settings; the normalize
stage applies this policy before an event is published, so the events topic, the table
state, the fact topics and the analytics store never hold a text unless
SMSRADAR_STORE_MESSAGE_BODIES asks for it. (The webhook topics keep every webhook as
received, texts included: they are the source of a replay.)
"""

from __future__ import annotations

import hashlib
import hmac

from smsradar.model import CanonicalEvent
from smsradar.settings import Settings


class BodyPolicy:
    def __init__(self, hash_key: bytes | None, store_text: bool) -> None:
        self.hash_key = hash_key
        self.store_text = store_text

    @classmethod
    def of(cls, settings: Settings) -> BodyPolicy:
        key = settings.body_hash_key
        return cls(key.get_secret_value().encode() if key else None, settings.store_message_bodies)

    def body_hash(self, text: str) -> str | None:
        """hex(HMAC-SHA256(key, the text in UTF-8)); None without a key.

        Unkeyed, the hash of a short text (a login code) would be reversed by hashing every
        candidate; keyed, only who holds the key can try.
        """
        if self.hash_key is None:
            return None
        # surrogatepass: a lone surrogate (JSON can escape one) still hashes, never raises.
        data = text.encode("utf-8", errors="surrogatepass")
        return hmac.new(self.hash_key, data, hashlib.sha256).hexdigest()

    def apply(self, event: CanonicalEvent) -> CanonicalEvent:
        """The event as it may be published: its text hashed, and dropped unless stored."""
        if event.body is None:
            return event
        return event.model_copy(
            update={
                "body_hash": self.body_hash(event.body),
                "body": event.body if self.store_text else None,
            }
        )
