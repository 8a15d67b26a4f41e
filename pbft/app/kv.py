"""A replicated key-value store: get, put, delete and compare-and-set (docs/services.md).

Operations and results are canonical CBOR (:mod:`pbft.app.encoding`):

=====================================  ==========================================
operation                              result
=====================================  ==========================================
``["put", key, value]``                ``["ok", previous value or null]``
``["get", key]``                       ``["ok", value or null]``
``["delete", key]``                    ``["ok", removed value or null]``
``["cas", key, expected|null, new]``   ``["ok", previous]`` or ``["mismatch", current]``
anything malformed                     ``["error", "what is wrong"]``
=====================================  ==========================================

Keys are text of 1 to 256 characters, values byte strings. ``cas`` with ``expected`` null
succeeds only when the key is absent (create-if-absent).
"""

from __future__ import annotations

import crypto
from pbft.app.encoding import (
    MAX_KEY_CHARS,
    MalformedError,
    Result,
    check_bytes_argument,
    check_text_argument,
    decode_canonical,
    decode_pairs,
    decode_result,
    encode,
    encode_pairs,
    error_result,
    expect_array,
    expect_bytes,
    expect_optional_bytes,
    expect_text,
    result,
    split_operation,
)

__all__ = ["KvStore", "Result", "cas", "decode_result", "delete", "get", "put"]

SNAPSHOT_NAME = "kv"
_ARITIES = {"put": 2, "get": 1, "delete": 1, "cas": 3}


def put(key: str, value: bytes) -> bytes:
    """The operation that sets ``key`` to ``value``."""
    return encode(["put", _key(key), check_bytes_argument(value, "value")])


def get(key: str) -> bytes:
    """The operation that reads ``key``."""
    return encode(["get", _key(key)])


def delete(key: str) -> bytes:
    """The operation that removes ``key``."""
    return encode(["delete", _key(key)])


def cas(key: str, expected: bytes | None, new: bytes) -> bytes:
    """The operation that sets ``key`` to ``new`` only if its value is ``expected``.

    ``expected=None`` means "only if absent".
    """
    if expected is not None:
        check_bytes_argument(expected, "expected")
    return encode(["cas", _key(key), expected, check_bytes_argument(new, "new")])


def _key(key: str) -> str:
    return check_text_argument(key, "key", max_chars=MAX_KEY_CHARS)


class KvStore:
    """A key-value map from text keys to byte values; see the module docstring."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._data)

    def execute(self, operation: bytes) -> bytes:
        """Apply one operation; a malformed one gives ``["error", ...]`` and changes nothing."""
        try:
            name, args = split_operation(operation, _ARITIES)
            key = expect_text(args[0], "key", max_chars=MAX_KEY_CHARS)
            match name:
                case "put":
                    value = expect_bytes(args[1], "value")
                    previous = self._data.get(key)
                    self._data[key] = value
                    return result("ok", previous)
                case "get":
                    return result("ok", self._data.get(key))
                case "delete":
                    return result("ok", self._data.pop(key, None))
                case "cas":
                    expected = expect_optional_bytes(args[1], "expected")
                    new = expect_bytes(args[2], "new")
                    current = self._data.get(key)
                    if current != expected:
                        return result("mismatch", current)
                    self._data[key] = new
                    return result("ok", current)
        except MalformedError as error:
            return error_result(str(error))
        raise AssertionError(f"operation {name!r} has an arity but no handler")

    def snapshot(self) -> bytes:
        """``["kv", [[key, value], ...]]`` with keys in ascending order."""
        return encode([SNAPSHOT_NAME, encode_pairs(self._data)])

    def restore(self, snapshot: bytes) -> None:
        """Replace the state; ValueError (state untouched) if the snapshot is malformed."""
        items = expect_array(decode_canonical(snapshot), "snapshot")
        if len(items) != 2 or items[0] != SNAPSHOT_NAME:
            raise MalformedError('a kv snapshot is ["kv", pairs]')
        self._data = decode_pairs(items[1], "snapshot")

    def state_digest(self) -> bytes:
        return crypto.digest(self.snapshot())
