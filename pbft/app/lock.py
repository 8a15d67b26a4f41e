"""A lock service with fencing tokens guarding a small store (docs/services.md).

The classic teaching example (Kleppmann, "How to do distributed locking", and DDIA ch. 8): a
client holding a lock can be paused (GC, VM migration) past its lease, another client takes the
lock, and the first wakes up still believing it holds the lock and writes. A lock alone cannot
stop that write; a *fencing token* can. Each grant of the lock comes with a token one higher
than the last, every write carries the writer's token, and the store refuses a write whose
token is lower than the highest it has already accepted.

Nothing here reads a clock, so lease expiry is modelled explicitly: ``acquire`` with
``steal=True`` takes the lock from its holder, standing in for "the lease ran out".

=============================================  =============================================
operation                                      result
=============================================  =============================================
``["acquire", owner, steal]``                  ``["ok", token]`` (a fresh token, or the
                                               current one if ``owner`` already holds it),
                                               or ``["busy", holder]``
``["release", owner]``                         ``["ok", token]`` or ``["not-holder", holder]``
``["write", key, value, token]``               ``["ok", token]``, ``["stale-token", highest]``
                                               or ``["unknown-token", last granted]``
``["read", key]``                              ``["ok", value or null]``
anything malformed                             ``["error", "what is wrong"]``
=============================================  =============================================

Writes are judged by token only, not by who holds the lock now: the store does not know about
leases, which is exactly why fencing works when the lock holder is wrong about its lease.
A token equal to the highest accepted one is allowed (the current holder writes repeatedly).
"""

from __future__ import annotations

import crypto
from pbft.app.encoding import (
    INT_MAX,
    MAX_KEY_CHARS,
    MAX_NAME_CHARS,
    MalformedError,
    Result,
    check_bytes_argument,
    check_int_argument,
    check_text_argument,
    decode_canonical,
    decode_pairs,
    decode_result,
    encode,
    encode_pairs,
    error_result,
    expect_array,
    expect_bool,
    expect_bytes,
    expect_int,
    expect_text,
    result,
    split_operation,
)

__all__ = ["LockService", "Result", "acquire", "decode_result", "read", "release", "write"]

SNAPSHOT_NAME = "lock"
_ARITIES = {"acquire": 2, "release": 1, "write": 3, "read": 1}


def acquire(owner: str, *, steal: bool = False) -> bytes:
    """The operation by which ``owner`` takes the lock (from its holder too, if ``steal``)."""
    if not isinstance(steal, bool):
        raise ValueError(f"steal must be a bool, got {steal!r}")
    return encode(["acquire", _owner(owner), steal])


def release(owner: str) -> bytes:
    """The operation by which ``owner`` gives the lock up."""
    return encode(["release", _owner(owner)])


def write(key: str, value: bytes, token: int) -> bytes:
    """The operation that stores ``value`` under ``key``, fenced by ``token``."""
    check_int_argument(token, "token")
    return encode(["write", _key(key), check_bytes_argument(value, "value"), token])


def read(key: str) -> bytes:
    """The operation that reads ``key`` from the fenced store."""
    return encode(["read", _key(key)])


def _owner(owner: str) -> str:
    return check_text_argument(owner, "owner", max_chars=MAX_NAME_CHARS)


def _key(key: str) -> str:
    return check_text_argument(key, "key", max_chars=MAX_KEY_CHARS)


class LockService:
    """One lock with fencing tokens, and the store it guards; see the module docstring."""

    def __init__(self) -> None:
        self._holder: str | None = None
        self._last_token = 0  # the token of the latest grant; 0 before the first
        self._highest_accepted = 0  # the highest token a write was accepted with
        self._store: dict[str, bytes] = {}

    @property
    def holder(self) -> str | None:
        return self._holder

    @property
    def last_token(self) -> int:
        return self._last_token

    @property
    def highest_accepted(self) -> int:
        return self._highest_accepted

    def execute(self, operation: bytes) -> bytes:
        """Apply one operation; a malformed one gives ``["error", ...]`` and changes nothing."""
        try:
            name, args = split_operation(operation, _ARITIES)
            match name:
                case "acquire":
                    owner = expect_text(args[0], "owner", max_chars=MAX_NAME_CHARS)
                    return self._acquire(owner, steal=expect_bool(args[1], "steal"))
                case "release":
                    return self._release(expect_text(args[0], "owner", max_chars=MAX_NAME_CHARS))
                case "write":
                    key = expect_text(args[0], "key", max_chars=MAX_KEY_CHARS)
                    value = expect_bytes(args[1], "value")
                    return self._write(key, value, token=expect_int(args[2], "token"))
                case "read":
                    key = expect_text(args[0], "key", max_chars=MAX_KEY_CHARS)
                    return result("ok", self._store.get(key))
        except MalformedError as error:
            return error_result(str(error))
        raise AssertionError(f"operation {name!r} has an arity but no handler")

    def _acquire(self, owner: str, *, steal: bool) -> bytes:
        if self._holder == owner and not steal:
            return result("ok", self._last_token)
        if self._holder is not None and not steal:
            return result("busy", self._holder)
        if self._last_token == INT_MAX:
            return error_result("no fencing tokens left")
        self._last_token += 1
        self._holder = owner
        return result("ok", self._last_token)

    def _release(self, owner: str) -> bytes:
        if self._holder != owner:
            return result("not-holder", self._holder)
        self._holder = None
        return result("ok", self._last_token)

    def _write(self, key: str, value: bytes, *, token: int) -> bytes:
        if not 1 <= token <= self._last_token:
            return result("unknown-token", self._last_token)
        if token < self._highest_accepted:
            return result("stale-token", self._highest_accepted)
        self._highest_accepted = token
        self._store[key] = value
        return result("ok", token)

    def snapshot(self) -> bytes:
        """``["lock", holder, last token, highest accepted token, [[key, value], ...]]``."""
        pairs = encode_pairs(self._store)
        return encode(
            [SNAPSHOT_NAME, self._holder, self._last_token, self._highest_accepted, pairs]
        )

    def restore(self, snapshot: bytes) -> None:
        """Replace the state; ValueError (state untouched) if the snapshot is malformed."""
        items = expect_array(decode_canonical(snapshot), "snapshot")
        if len(items) != 5 or items[0] != SNAPSHOT_NAME:
            raise MalformedError('a lock snapshot is ["lock", holder, last, highest, pairs]')
        holder = (
            None
            if items[1] is None
            else expect_text(items[1], "snapshot holder", max_chars=MAX_NAME_CHARS)
        )
        last_token = expect_int(items[2], "snapshot last token", low=0)
        highest = expect_int(items[3], "snapshot highest token", low=0, high=last_token)
        if holder is not None and last_token == 0:
            raise MalformedError("a snapshot with a holder must have granted a token")
        store = decode_pairs(items[4], "snapshot")
        self._holder = holder
        self._last_token = last_token
        self._highest_accepted = highest
        self._store = store

    def state_digest(self) -> bytes:
        return crypto.digest(self.snapshot())
