"""A replicated 64-bit counter: the smallest service with state to agree on.

Operations ``["add", n]`` (result ``["ok", new value]``) and ``["read"]`` (result
``["ok", value]``), canonical CBOR as in docs/services.md. The value stays a signed 64-bit
integer: an ``add`` that would leave that range is refused with ``["error", ...]`` and changes
nothing, so every replica refuses it alike.
"""

from __future__ import annotations

import crypto
from pbft.app.encoding import (
    INT_MAX,
    INT_MIN,
    MalformedError,
    Result,
    check_int_argument,
    decode_canonical,
    decode_result,
    encode,
    error_result,
    expect_array,
    expect_int,
    result,
    split_operation,
)

__all__ = ["Counter", "Result", "add", "decode_result", "read"]

SNAPSHOT_NAME = "counter"
_ARITIES = {"add": 1, "read": 0}


def add(n: int) -> bytes:
    """The operation that adds ``n`` (which may be negative) to the counter."""
    return encode(["add", check_int_argument(n, "n")])


def read() -> bytes:
    """The operation that reads the counter."""
    return encode(["read"])


class Counter:
    """A single signed 64-bit integer, starting at 0."""

    def __init__(self) -> None:
        self._value = 0

    @property
    def value(self) -> int:
        return self._value

    def execute(self, operation: bytes) -> bytes:
        """Apply one operation; a malformed or overflowing one gives an error result."""
        try:
            name, args = split_operation(operation, _ARITIES)
            if name == "read":
                return result("ok", self._value)
            assert name == "add"
            total = self._value + expect_int(args[0], "n")
            if not INT_MIN <= total <= INT_MAX:
                return error_result(f"add would overflow the 64-bit counter (value {self._value})")
            self._value = total
            return result("ok", total)
        except MalformedError as error:
            return error_result(str(error))

    def snapshot(self) -> bytes:
        """``["counter", value]``."""
        return encode([SNAPSHOT_NAME, self._value])

    def restore(self, snapshot: bytes) -> None:
        """Replace the value; ValueError (state untouched) if the snapshot is malformed."""
        items = expect_array(decode_canonical(snapshot), "snapshot")
        if len(items) != 2 or items[0] != SNAPSHOT_NAME:
            raise MalformedError('a counter snapshot is ["counter", value]')
        self._value = expect_int(items[1], "snapshot value")

    def state_digest(self) -> bytes:
        return crypto.digest(self.snapshot())
