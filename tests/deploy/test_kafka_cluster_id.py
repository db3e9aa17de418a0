"""The test broker's KRaft cluster id is one kafka-storage accepts."""

from __future__ import annotations

import base64

from tests.support.apache_kafka import cluster_id


def test_cluster_ids_never_start_like_an_option() -> None:
    ids = [cluster_id() for _ in range(10_000)]  # about 156 would start with "-" unchecked
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
    for i in ids[:100]:  # still Kafka's Uuid format: 16 bytes, URL-safe base64, no padding
        assert len(i) == 22 and len(base64.urlsafe_b64decode(i + "==")) == 16
