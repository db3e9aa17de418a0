"""The true end of a changelog partition, for Faust's table recovery.

Faust recovers a table by reading its changelog up to the end offset the broker reports
(ListOffsets, latest). The embedded broker (Tansu 0.6) reports the base offset of the
last record batch + 1, not the last offset + 1: recovery then stops short of the newest
changes, whose source records may already be committed, and those changes are lost. A
fetch from the reported end - 1 returns that last batch whole; its last offset + 1 is the
end. On Apache Kafka the two agree and this costs one fetch per recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from smsradar.kafka import client_options
from smsradar.settings import Settings

log = logging.getLogger("smsradar.streams")

FETCH_TIMEOUT_MS = 2000


async def log_ends(settings: Settings, reported: Mapping[TP, int]) -> dict[TP, int]:
    """``reported`` end offsets by partition, raised to the offset after the last record."""
    ends = dict(reported)
    nonempty = [tp for tp, end in reported.items() if end]
    if not nonempty:
        return ends
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = {TopicPartition(tp.topic, tp.partition): tp for tp in nonempty}
        consumer.assign(list(partitions))
        for partition, tp in partitions.items():
            consumer.seek(partition, ends[tp] - 1)
        waiting = set(partitions)
        while waiting:
            fetched = await consumer.getmany(*waiting, timeout_ms=FETCH_TIMEOUT_MS)
            if not fetched:
                break  # nothing at end - 1 (compacted away): the reported end stands
            for partition, records in fetched.items():
                tp = partitions[partition]
                end = records[-1].offset + 1
                if end > ends[tp]:
                    log.info(
                        "changelog end beyond the broker's reported end",
                        extra={"partition": str(tp), "reported": ends[tp], "end": end},
                    )
                    ends[tp] = end
                waiting.discard(partition)
    finally:
        await consumer.stop()
    return ends
