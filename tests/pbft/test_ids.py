"""Principal names: replicas are "r<i>", clients may not look like replicas."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pbft.ids import ReplicaId, is_valid_client_id, replica_of, replica_principal


@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_replica_principal_round_trips(replica: int) -> None:
    assert replica_of(replica_principal(ReplicaId(replica))) == replica


def test_non_replica_names_have_no_replica_id() -> None:
    for name in ["c0", "r", "r01", "r-1", "R1", "r1x", "", "r99999999"]:
        assert replica_of(name) is None, name


def test_client_ids_cannot_impersonate_replicas() -> None:
    assert is_valid_client_id("c0")
    assert is_valid_client_id("alice")
    assert not is_valid_client_id("r0")
    assert not is_valid_client_id("r12")
    assert not is_valid_client_id("")
    assert not is_valid_client_id("Alice")
    assert not is_valid_client_id("a" * 33)
