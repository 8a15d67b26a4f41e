"""Tests for the lock service with fencing tokens (Kleppmann, DDIA ch. 8)."""

from __future__ import annotations

import cbor2
import pytest

from pbft.app.lock import LockService, acquire, decode_result, read, release, write


def execute(service: LockService, operation: bytes) -> tuple[str, object]:
    outcome = decode_result(service.execute(operation))
    return outcome.status, outcome.value


def test_paused_client_with_an_expired_lease_cannot_overwrite_the_new_holders_data() -> None:
    """The fencing-token story: client 1 stalls, its lease expires, its late write is refused."""
    service = LockService()
    assert execute(service, acquire("client1")) == ("ok", 1)  # token 33 in the book's figure
    # client1 pauses (GC); its lease expires, modelled by client2 stealing the lock.
    assert execute(service, acquire("client2", steal=True)) == ("ok", 2)
    assert execute(service, write("file", b"from client2", token=2)) == ("ok", 2)
    # client1 wakes up, still believing it holds the lock, and writes with its old token.
    assert execute(service, write("file", b"from client1", token=1)) == ("stale-token", 2)
    assert execute(service, read("file")) == ("ok", b"from client2")


def test_late_write_is_refused_even_when_the_old_holder_wrote_first() -> None:
    service = LockService()
    execute(service, acquire("client1"))
    assert execute(service, write("file", b"a", token=1)) == ("ok", 1)
    execute(service, acquire("client2", steal=True))
    assert execute(service, write("file", b"b", token=2)) == ("ok", 2)
    assert execute(service, write("file", b"c", token=1)) == ("stale-token", 2)


def test_tokens_increase_with_every_grant() -> None:
    service = LockService()
    granted = []
    for owner in ["a", "b", "c"]:
        _, token = execute(service, acquire(owner))
        granted.append(token)
        execute(service, release(owner))
    assert granted == [1, 2, 3]
    assert service.last_token == 3


def test_acquire_of_a_held_lock_is_busy_and_names_the_holder() -> None:
    service = LockService()
    execute(service, acquire("alice"))
    assert execute(service, acquire("bob")) == ("busy", "alice")
    assert service.holder == "alice"


def test_holder_acquiring_again_keeps_its_token() -> None:
    service = LockService()
    execute(service, acquire("alice"))
    assert execute(service, acquire("alice")) == ("ok", 1)
    assert service.last_token == 1


def test_only_the_holder_can_release() -> None:
    service = LockService()
    execute(service, acquire("alice"))
    assert execute(service, release("bob")) == ("not-holder", "alice")
    assert execute(service, release("alice")) == ("ok", 1)
    assert service.holder is None
    assert execute(service, release("alice")) == ("not-holder", None)


def test_repeated_writes_with_the_current_token_are_accepted() -> None:
    service = LockService()
    execute(service, acquire("alice"))
    assert execute(service, write("k", b"1", token=1)) == ("ok", 1)
    assert execute(service, write("k", b"2", token=1)) == ("ok", 1)
    assert execute(service, read("k")) == ("ok", b"2")


@pytest.mark.parametrize("token", [0, -1, 2])
def test_write_with_a_token_never_granted_is_refused(token: int) -> None:
    service = LockService()
    execute(service, acquire("alice"))
    assert execute(service, write("k", b"x", token=token)) == ("unknown-token", 1)
    assert execute(service, read("k")) == ("ok", None)
    assert service.highest_accepted == 0


def test_store_judges_writes_by_token_not_by_current_holder() -> None:
    """After release nobody holds the lock, yet the latest token may still write."""
    service = LockService()
    execute(service, acquire("alice"))
    execute(service, release("alice"))
    assert execute(service, write("k", b"x", token=1)) == ("ok", 1)


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (cbor2.dumps(["acquire", "alice", 1]), "steal must be true or false"),
        (cbor2.dumps(["acquire", "alice"]), "acquire takes 2 arguments"),
        (cbor2.dumps(["write", "k", b"v", "1"]), "token must be an integer"),
        (cbor2.dumps(["write", "k", b"v", False]), "token must be an integer"),
        (cbor2.dumps(["release", ""]), "owner must have 1 to 64 characters"),
    ],
)
def test_malformed_lock_operations_are_refused(operation: bytes, message: str) -> None:
    service = LockService()
    before = service.snapshot()
    status, value = execute(service, operation)
    assert status == "error"
    assert isinstance(value, str)
    assert message in value
    assert service.snapshot() == before


def test_snapshot_carries_holder_tokens_and_store() -> None:
    service = LockService()
    execute(service, acquire("alice"))
    execute(service, write("k", b"v", token=1))
    assert cbor2.loads(service.snapshot()) == ["lock", "alice", 1, 1, [["k", b"v"]]]
    copy = LockService()
    copy.restore(service.snapshot())
    assert (copy.holder, copy.last_token, copy.highest_accepted) == ("alice", 1, 1)


@pytest.mark.parametrize(
    "snapshot",
    [
        cbor2.dumps(["lock", None, 1, 2, []]),  # accepted a token never granted
        cbor2.dumps(["lock", "alice", 0, 0, []]),  # a holder without a token
        cbor2.dumps(["lock", None, -1, 0, []]),
        cbor2.dumps(["lock", 5, 1, 0, []]),
    ],
)
def test_restore_refuses_an_inconsistent_snapshot(snapshot: bytes) -> None:
    with pytest.raises(ValueError):
        LockService().restore(snapshot)


def test_acquire_builder_insists_on_a_bool_steal() -> None:
    with pytest.raises(ValueError, match="steal must be a bool"):
        acquire("alice", steal=1)  # type: ignore[arg-type]  # deliberately wrong type
