import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from smsradar.facts import AlertFact, FailureRateFact, InboundFact, MessageFact, StatusEventFact
from streams.topics import dump


def _counts_fit_64_bits(fact: BaseModel) -> bool:
    """orjson (the reference here) writes no integer beyond 64 bits; no count gets near."""
    values = fact.model_dump().values()
    return all(-(2**63) <= value < 2**63 for value in values if isinstance(value, int))


FACTS = st.one_of(
    *(
        st.builds(fact).filter(_counts_fit_64_bits)
        for fact in (MessageFact, StatusEventFact, InboundFact, FailureRateFact, AlertFact)
    )
)


@given(FACTS)
def test_dump_writes_the_bytes_orjson_writes_of_the_json_mode_dict(fact: BaseModel) -> None:
    # Facts are compacted by key and re-emitted on replay: the serializer that writes them
    # must not change a byte of what was written before it (orjson over model_dump).
    assert dump(fact) == orjson.dumps(fact.model_dump(mode="json"))
