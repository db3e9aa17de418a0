import asyncio

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from smsradar.kafka import make_producer
from smsradar.partitioning import default_partitioner, murmur2, partition_of
from smsradar.settings import Settings

# Kafka's own vectors (clients' UtilsTest.testMurmur2), as Java's signed ints.
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def test_murmur2_matches_kafkas_java_vectors() -> None:
    assert {data: _signed(murmur2(data)) for data in JAVA_VECTORS} == JAVA_VECTORS


@given(st.binary(max_size=300))
def test_murmur2_matches_aiokafkas_on_any_bytes(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(min_size=1, max_size=120), st.integers(min_value=1, max_value=64))
def test_a_keyed_record_goes_where_aiokafkas_default_partitioner_puts_it(
    key: bytes, partitions: int
) -> None:
    all_partitions = list(range(partitions))
    expected = DefaultPartitioner()(key, all_partitions, all_partitions)
    assert partition_of(key, partitions) == expected
    assert default_partitioner(key, all_partitions, all_partitions) == expected


def test_an_unkeyed_record_goes_to_an_available_partition() -> None:
    placed = {default_partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert placed == {1, 3}
    assert default_partitioner(None, [0, 1, 2], []) in {0, 1, 2}


def test_our_producers_place_keys_with_it() -> None:
    async def partitioner() -> object:
        producer = make_producer(Settings())  # aiokafka wants a running loop; not started
        return producer._partitioner

    assert asyncio.run(partitioner()) is default_partitioner
