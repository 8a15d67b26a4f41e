"""Tests for the 64-bit counter service."""

from __future__ import annotations

import cbor2
import pytest

from pbft.app.counter import Counter, add, decode_result, read


def test_add_returns_the_new_value_and_read_sees_it() -> None:
    service = Counter()
    assert decode_result(service.execute(add(5))).value == 5
    assert decode_result(service.execute(add(-7))).value == -2
    assert decode_result(service.execute(read())).value == -2
    assert service.value == -2


def test_add_that_would_overflow_is_refused_and_leaves_the_value() -> None:
    service = Counter()
    service.execute(add(2**63 - 1))
    outcome = decode_result(service.execute(add(1)))
    assert outcome.status == "error"
    assert isinstance(outcome.value, str)
    assert "overflow" in outcome.value
    assert service.value == 2**63 - 1


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (cbor2.dumps(["add", True]), "n must be an integer"),
        (cbor2.dumps(["add", 2**63]), "n must be in"),
        (cbor2.dumps(["add"]), "add takes 1 arguments, got 0"),
        (cbor2.dumps(["read", 1]), "read takes 0 arguments, got 1"),
    ],
)
def test_malformed_counter_operations_are_refused(operation: bytes, message: str) -> None:
    service = Counter()
    outcome = decode_result(service.execute(operation))
    assert outcome.status == "error"
    assert isinstance(outcome.value, str)
    assert message in outcome.value
    assert service.value == 0


def test_snapshot_is_the_tagged_value_and_restores() -> None:
    service = Counter()
    service.execute(add(41))
    assert cbor2.loads(service.snapshot()) == ["counter", 41]
    copy = Counter()
    copy.restore(service.snapshot())
    assert copy.value == 41


@pytest.mark.parametrize("n", [True, 2**63, 1.0])
def test_add_builder_rejects_values_outside_signed_64_bits(n: object) -> None:
    with pytest.raises(ValueError, match="n must be an int"):
        add(n)  # type: ignore[arg-type]  # deliberately wrong types
