"""Tests for the key-value store and its operation builders."""

from __future__ import annotations

from collections.abc import Callable

import cbor2
import pytest

from pbft.app.kv import KvStore, cas, decode_result, delete, get, put


def execute(store: KvStore, operation: bytes) -> tuple[str, object]:
    outcome = decode_result(store.execute(operation))
    return outcome.status, outcome.value


def test_builders_produce_the_documented_canonical_arrays() -> None:
    assert put("k", b"v") == cbor2.dumps(["put", "k", b"v"], canonical=True)
    assert get("k") == cbor2.dumps(["get", "k"], canonical=True)
    assert delete("k") == cbor2.dumps(["delete", "k"], canonical=True)
    assert cas("k", None, b"n") == cbor2.dumps(["cas", "k", None, b"n"], canonical=True)
    assert put("k", b"v").hex() == "8363707574616b4176"


def test_get_of_a_missing_key_is_ok_with_null() -> None:
    assert execute(KvStore(), get("k")) == ("ok", None)


def test_put_returns_the_previous_value_and_get_sees_the_new_one() -> None:
    store = KvStore()
    assert execute(store, put("k", b"1")) == ("ok", None)
    assert execute(store, put("k", b"2")) == ("ok", b"1")
    assert execute(store, get("k")) == ("ok", b"2")


def test_delete_returns_the_removed_value_and_the_key_is_gone() -> None:
    store = KvStore()
    execute(store, put("k", b"1"))
    assert execute(store, delete("k")) == ("ok", b"1")
    assert execute(store, get("k")) == ("ok", None)
    assert execute(store, delete("k")) == ("ok", None)
    assert len(store) == 0


def test_cas_swaps_only_when_the_current_value_is_the_expected_one() -> None:
    store = KvStore()
    execute(store, put("k", b"1"))
    assert execute(store, cas("k", b"0", b"2")) == ("mismatch", b"1")
    assert execute(store, get("k")) == ("ok", b"1")
    assert execute(store, cas("k", b"1", b"2")) == ("ok", b"1")
    assert execute(store, get("k")) == ("ok", b"2")


def test_cas_with_null_expected_creates_only_when_absent() -> None:
    store = KvStore()
    assert execute(store, cas("k", None, b"1")) == ("ok", None)
    assert execute(store, cas("k", None, b"2")) == ("mismatch", b"1")
    assert execute(store, get("k")) == ("ok", b"1")


def test_snapshot_lists_keys_in_ascending_order_whatever_the_insertion_order() -> None:
    first, second = KvStore(), KvStore()
    for key in ["b", "a", "c"]:
        first.execute(put(key, key.encode()))
    for key in ["c", "a", "b"]:
        second.execute(put(key, key.encode()))
    assert first.snapshot() == second.snapshot()
    assert cbor2.loads(first.snapshot()) == ["kv", [["a", b"a"], ["b", b"b"], ["c", b"c"]]]


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (cbor2.dumps(["put", "k"]), "put takes 2 arguments, got 1"),
        (cbor2.dumps(["get", 5]), "key must be text"),
        (cbor2.dumps(["get", ""]), "key must have 1 to 256 characters"),
        (cbor2.dumps(["get", "x" * 257]), "key must have 1 to 256 characters"),
        (cbor2.dumps(["put", "k", "text"]), "value must be a byte string"),
        (cbor2.dumps(["cas", "k", 3, b"n"]), "expected must be a byte string"),
        (cbor2.dumps(["cas", "k", None, None]), "new must be a byte string"),
    ],
)
def test_malformed_kv_operations_are_refused_with_a_reason(operation: bytes, message: str) -> None:
    store = KvStore()
    status, value = execute(store, operation)
    assert status == "error"
    assert isinstance(value, str)
    assert message in value
    assert len(store) == 0


@pytest.mark.parametrize(
    "snapshot",
    [
        cbor2.dumps(["kv", [["b", b"1"], ["a", b"2"]]]),  # keys out of order
        cbor2.dumps(["kv", [["a", b"1"], ["a", b"2"]]]),  # repeated key
        cbor2.dumps(["kv", [["a", "text"]]]),
        cbor2.dumps(["kv", [["a"]]]),
        cbor2.dumps(["counter", 0]),
    ],
)
def test_restore_refuses_a_non_canonical_or_wrong_snapshot(snapshot: bytes) -> None:
    with pytest.raises(ValueError):
        KvStore().restore(snapshot)


@pytest.mark.parametrize(
    "build",
    [
        lambda: put("", b"v"),
        lambda: get("x" * 257),
        lambda: put("k", "v"),  # type: ignore[arg-type]  # deliberately wrong type
        lambda: cas("k", 1, b""),  # type: ignore[arg-type]  # deliberately wrong type
    ],
)
def test_builders_reject_bad_arguments_at_once(build: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError):
        build()
