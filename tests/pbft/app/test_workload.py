"""Tests for the simulator's workload operation generator."""

from __future__ import annotations

import pytest

from pbft.app import counter, decode_result, kv, lock, make_service
from pbft.app.workload import OPERATION_KINDS, operation_for


def test_every_kind_of_every_service_builds_an_operation_the_service_accepts() -> None:
    for app, kinds in OPERATION_KINDS.items():
        service = make_service(app)
        for kind in kinds:
            for key_index in range(3):
                outcome = decode_result(service.execute(operation_for(app, kind, key_index, b"v")))
                assert outcome.status != "error", (app, kind, outcome)


def test_kinds_cover_the_documented_operations() -> None:
    assert OPERATION_KINDS["kv"] == ("put", "get", "delete", "cas")
    assert OPERATION_KINDS["counter"] == ("add", "read")
    assert OPERATION_KINDS["lock"] == ("acquire", "steal", "release", "write", "read")


def test_operations_map_arguments_as_documented() -> None:
    assert operation_for("kv", "put", 3, b"x") == kv.put("k3", b"x")
    assert operation_for("kv", "cas", 3, b"x") == kv.cas("k3", None, b"x")
    assert operation_for("counter", "add", 9, b"x") == counter.add(1)
    assert operation_for("lock", "steal", 2, b"x") == lock.acquire("o2", steal=True)
    assert operation_for("lock", "write", 2, b"x") == lock.write("k2", b"x", token=3)


def test_same_arguments_give_the_same_bytes() -> None:
    assert operation_for("kv", "put", 1, b"v") == operation_for("kv", "put", 1, b"v")


@pytest.mark.parametrize(
    ("app", "kind", "key_index", "value", "message"),
    [
        ("sql", "put", 0, b"", r"unknown service 'sql' \(known: counter, kv, lock\)"),
        ("kv", "add", 0, b"", r"unknown operation kind 'add' for service 'kv'"),
        ("kv", "put", -1, b"", "key_index must be a non-negative int"),
        ("kv", "put", True, b"", "key_index must be a non-negative int"),
        ("kv", "put", 0, "v", "value must be bytes"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_problem(
    app: str, kind: str, key_index: int, value: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        operation_for(app, kind, key_index, value)
