"""The receiver reads ``?token=`` itself; it must read what Starlette's query_params would."""

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from receiver.app import _query_token

QUERY_PARTS = st.lists(
    st.sampled_from(["token", "tok%65n", "token=", "=", "&", "%", "+", "a", "%20", "é", ";"]),
    max_size=12,
).map("".join)


@given(st.one_of(QUERY_PARTS, st.text()).map(lambda text: text.encode("utf-8")))
def test_the_token_is_the_one_starlettes_query_params_give(query_string: bytes) -> None:
    assert _query_token(query_string) == QueryParams(query_string).get("token", "")


def test_the_last_of_repeated_tokens_counts_and_an_encoded_name_is_a_token() -> None:
    assert _query_token(b"token=a&token=b") == "b"
    assert _query_token(b"tok%65n=s%20cret") == "s cret"
    assert _query_token(b"other=1") == ""
    assert _query_token(b"") == ""
