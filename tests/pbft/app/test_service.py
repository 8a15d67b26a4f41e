"""Contract tests every built-in service must pass (pbft.app.service.Service)."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from pbft.app import SERVICE_NAMES, Service, counter, decode_result, kv, lock, make_service

from .strategies import OPERATIONS

service_names = st.sampled_from(SERVICE_NAMES)


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    name = draw(service_names)
    return name, draw(st.lists(OPERATIONS[name], max_size=30))


def run(name: str, operations: list[bytes]) -> tuple[Service, list[bytes]]:
    service = make_service(name)
    return service, [service.execute(operation) for operation in operations]


def test_every_built_in_service_satisfies_the_protocol() -> None:
    for name in SERVICE_NAMES:
        assert isinstance(make_service(name), Service)


@given(histories())
def test_same_operations_give_same_results_and_state(history: tuple[str, list[bytes]]) -> None:
    name, operations = history
    first, first_results = run(name, operations)
    second, second_results = run(name, operations)
    assert first_results == second_results
    assert first.snapshot() == second.snapshot()
    assert first.state_digest() == second.state_digest()


@given(histories(), st.data())
def test_snapshot_restore_round_trip_preserves_state_and_behaviour(
    history: tuple[str, list[bytes]], data: st.DataObject
) -> None:
    name, operations = history
    original, _ = run(name, operations)
    copy = make_service(name)
    copy.restore(original.snapshot())
    assert copy.snapshot() == original.snapshot()
    assert copy.state_digest() == original.state_digest()
    for operation in data.draw(st.lists(OPERATIONS[name], max_size=10)):
        assert copy.execute(operation) == original.execute(operation)
    assert copy.snapshot() == original.snapshot()


@given(histories())
def test_state_digest_is_the_digest_of_the_snapshot(history: tuple[str, list[bytes]]) -> None:
    name, operations = history
    service, _ = run(name, operations)
    assert service.state_digest() == crypto.digest(service.snapshot())
    assert len(service.state_digest()) == crypto.DIGEST_SIZE


@given(histories())
def test_every_result_is_a_decodable_status_and_value(history: tuple[str, list[bytes]]) -> None:
    name, operations = history
    _, results = run(name, operations)
    for result in results:
        assert decode_result(result).status in {
            "ok",
            "error",
            "mismatch",
            "busy",
            "not-holder",
            "stale-token",
            "unknown-token",
        }


@given(name=service_names, garbage=st.binary(max_size=64))
def test_garbage_operation_gives_an_error_result_and_changes_nothing(
    name: str, garbage: bytes
) -> None:
    service = make_service(name)
    before = service.snapshot()
    outcome = decode_result(service.execute(garbage))
    if outcome.status == "error":
        assert service.snapshot() == before
        assert isinstance(outcome.value, str)


MALFORMED = [
    (b"", "not valid CBOR"),
    (b"\xff", "not valid CBOR"),
    (cbor2.dumps({"op": "get"}), "unexpected CBOR item of type dict"),
    (cbor2.dumps("read"), "operation must be an array"),
    (cbor2.dumps([]), "starting with its name"),
    (cbor2.dumps([7]), "starting with its name"),
    (cbor2.dumps(["frobnicate"]), "unknown operation 'frobnicate'"),
    (cbor2.dumps([1.5]), "unexpected CBOR item of type float"),
    (cbor2.dumps(["read"]) + b"\x00", "not canonical"),
    (b"\x9f\x64read\xff", "not canonical"),  # indefinite-length array
    (b"\xc1\x01", "unexpected CBOR item of type datetime"),  # tag 1: epoch time
    (b"\x81" * 100_000, "not valid CBOR"),  # nesting deeper than the decoder allows
    (b"\x5b\x00\x00\x00\xff\xff\xff\xff\xff", "not valid CBOR"),  # huge declared length
]


@pytest.mark.parametrize("name", SERVICE_NAMES)
@pytest.mark.parametrize(("operation", "message"), MALFORMED)
def test_malformed_operation_is_an_error_result_naming_the_problem(
    name: str, operation: bytes, message: str
) -> None:
    service = make_service(name)
    before = service.snapshot()
    outcome = decode_result(service.execute(operation))
    assert outcome.status == "error"
    assert isinstance(outcome.value, str)
    assert message in outcome.value
    assert service.snapshot() == before


SETUP = {"kv": kv.put("a", b"1"), "counter": counter.add(3), "lock": lock.acquire("alice")}


@pytest.mark.parametrize("name", SERVICE_NAMES)
@pytest.mark.parametrize(
    "snapshot",
    [
        b"",
        b"\xff",
        cbor2.dumps(["nonsense", 1]),
        cbor2.dumps([]),
        cbor2.dumps({"kv": []}),
        cbor2.dumps(["kv", []]) + b"\x00",
        cbor2.dumps(["counter", 1.0]),
        cbor2.dumps(["lock", None, 0, 0]),
    ],
)
def test_malformed_snapshot_raises_value_error_and_keeps_state(name: str, snapshot: bytes) -> None:
    service = make_service(name)
    assert decode_result(service.execute(SETUP[name])).ok
    before = service.snapshot()
    with pytest.raises(ValueError):
        service.restore(snapshot)
    assert service.snapshot() == before


def test_make_service_names_the_known_services_on_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown service 'sql' \(known: counter, kv, lock\)"):
        make_service("sql")


def test_make_service_returns_a_fresh_instance_each_time() -> None:
    first = make_service("counter")
    first.execute(cbor2.dumps(["add", 1]))
    assert make_service("counter").snapshot() != first.snapshot()
