"""Tests for the canonical CBOR helpers shared by the built-in services."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.app.encoding import (
    MalformedError,
    Result,
    decode_canonical,
    decode_result,
    encode,
    error_result,
    result,
)

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.binary(max_size=8),
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
documents = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4), max_leaves=20)


@given(documents)
def test_canonical_documents_round_trip(document: object) -> None:
    assert decode_canonical(encode(document)) == document  # type: ignore[arg-type]


@given(st.binary(max_size=40))
def test_decoding_arbitrary_bytes_raises_only_malformed_error(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        decode_canonical(data)


@given(documents, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_are_refused(document: object, trailer: bytes) -> None:
    with pytest.raises(MalformedError, match="not canonical"):
        decode_canonical(encode(document) + trailer)  # type: ignore[arg-type]


def test_non_shortest_integer_is_refused() -> None:
    with pytest.raises(MalformedError, match="not canonical"):
        decode_canonical(b"\x18\x01")  # 1 encoded in two bytes


def test_maps_are_refused_even_when_canonical() -> None:
    with pytest.raises(MalformedError, match="type dict"):
        decode_canonical(cbor2.dumps({"a": 1}, canonical=True))


def test_malformed_error_is_a_value_error() -> None:
    assert issubclass(MalformedError, ValueError)


def test_results_decode_to_status_and_value() -> None:
    assert decode_result(result("ok", b"v")) == Result(status="ok", value=b"v")
    assert decode_result(result("ok", None)).ok
    assert decode_result(error_result("bad")) == Result(status="error", value="bad")
    assert not decode_result(error_result("bad")).ok


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encode(["ok"]), "result must be"),
        (encode(["ok", [1]]), "result value must be"),
        (encode(["ok", True]), "result value must be"),
        (encode([1, None]), "result status must be text"),
        (b"\xff", "not valid CBOR"),
    ],
)
def test_decode_result_refuses_what_no_service_produces(data: bytes, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        decode_result(data)
