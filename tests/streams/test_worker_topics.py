"""The worker creates every topic it reads or writes before Faust starts."""

from __future__ import annotations

from smsradar.settings import Settings
from streams.app import webhook_topic_names
from streams.topics import Topics
from streams.worker import worker_topics


def test_every_stream_topic_is_created_and_the_facts_are_compacted() -> None:
    settings = Settings(_env_file=None, topic_prefix="p")
    topics = Topics.of(settings)
    created = worker_topics(settings)
    every = {getattr(topics, field) for field in topics.__dataclass_fields__}
    assert set(created) == every | set(webhook_topic_names(settings))
    for name, configs in created.items():
        compacted = configs.get("cleanup.policy") == "compact"
        assert compacted == (name in topics.facts), name
