"""Canonical CBOR for service operations, results and snapshots (docs/services.md).

Every built-in service speaks the same shape: an operation is a CBOR array whose first item
names it (``["put", key, value]``); a result is a two-item array ``[status, value]`` where
``status`` is ``"ok"``, ``"error"`` or a service-specific refusal such as ``"mismatch"``; a
snapshot is an array whose first item names the service. Only arrays, text, byte strings,
integers, booleans and null occur, so the canonical encoding (RFC 8949 §4.2.1: shortest forms,
definite lengths) is unique, and decoding insists on it: the decoded value must re-encode to
exactly the input bytes, which also refuses trailing bytes, floats and tags.

Operations come from clients, who may be Byzantine, so parsing never raises to the service:
:func:`decode_canonical` raises only :class:`MalformedError`, which the services turn into an
error result.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs
import cbor2

from pbft.ids import MAX_U64

MAX_KEY_CHARS = 256
MAX_NAME_CHARS = 64
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

# What a decoded canonical document may contain: nested arrays of these atoms.
Value: TypeAlias = "list[Value] | str | bytes | int | bool | None"

assert INT_MAX < MAX_U64  # every integer we accept has a one-head CBOR encoding


class MalformedError(ValueError):
    """Bytes that are not a well-formed, canonical operation or snapshot; says what is wrong."""


def encode(value: Value) -> bytes:
    """The canonical CBOR encoding of ``value``."""
    return bytes(cbor2.dumps(value, canonical=True))


def decode_canonical(data: bytes) -> Value:
    """Decode canonical CBOR made only of arrays, text, bytes, ints, bools and null.

    Raises :class:`MalformedError` for anything else: bytes that are not CBOR, trailing bytes,
    a non-shortest or indefinite-length encoding, maps, floats, tags, or nesting too deep for
    the decoder.
    """
    if not isinstance(data, bytes):
        raise MalformedError(f"expected bytes, got {type(data).__name__}")
    try:
        value: Value = cbor2.loads(data)
    # The decoder is a third-party parser fed untrusted bytes; whatever it raises (decode
    # errors, recursion limits, invalid UTF-8, odd tag payloads) means "malformed" to us.
    except Exception as error:
        raise MalformedError(f"not valid CBOR: {error}") from None
    _check_atoms(value)
    if encode(value) != data:
        raise MalformedError(
            "not canonical CBOR (non-shortest form, indefinite length or trailing bytes)"
        )
    return value


def _check_atoms(value: object) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, str | bytes | int):
            raise MalformedError(f"unexpected CBOR item of type {type(item).__name__}")


def expect_array(value: Value, what: str) -> list[Value]:
    if not isinstance(value, list):
        raise MalformedError(f"{what} must be an array")
    return value


def expect_text(value: Value, what: str, *, max_chars: int) -> str:
    if not isinstance(value, str):
        raise MalformedError(f"{what} must be text")
    if not 1 <= len(value) <= max_chars:
        raise MalformedError(f"{what} must have 1 to {max_chars} characters, got {len(value)}")
    return value


def expect_bytes(value: Value, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise MalformedError(f"{what} must be a byte string")
    return value


def expect_optional_bytes(value: Value, what: str) -> bytes | None:
    if value is None:
        return None
    return expect_bytes(value, what)


def expect_int(value: Value, what: str, *, low: int = INT_MIN, high: int = INT_MAX) -> int:
    # bool is a subclass of int in Python; true/false is not a number on the wire.
    if type(value) is not int:
        raise MalformedError(f"{what} must be an integer")
    if not low <= value <= high:
        raise MalformedError(f"{what} must be in [{low}, {high}], got {value}")
    return value


def expect_bool(value: Value, what: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedError(f"{what} must be true or false")
    return value


def encode_pairs(mapping: dict[str, bytes]) -> list[Value]:
    """``[[key, value], ...]`` in ascending key order: equal maps give equal encodings."""
    return [[key, mapping[key]] for key in sorted(mapping)]


def decode_pairs(value: Value, what: str) -> dict[str, bytes]:
    """The inverse of :func:`encode_pairs`; refuses unsorted or repeated keys."""
    mapping: dict[str, bytes] = {}
    previous_key: str | None = None
    for pair in expect_array(value, what):
        entry = expect_array(pair, f"{what} entry")
        if len(entry) != 2:
            raise MalformedError(f"each {what} entry is [key, value]")
        key = expect_text(entry[0], f"{what} key", max_chars=MAX_KEY_CHARS)
        if previous_key is not None and key <= previous_key:
            raise MalformedError(f"{what} keys must be unique and in ascending order")
        mapping[key] = expect_bytes(entry[1], f"{what} value")
        previous_key = key
    return mapping


def split_operation(operation: bytes, arities: dict[str, int]) -> tuple[str, list[Value]]:
    """Decode ``[name, args...]`` and check that ``name`` is known and takes that many args."""
    items = expect_array(decode_canonical(operation), "operation")
    if not items or not isinstance(items[0], str):
        raise MalformedError("operation must be an array starting with its name")
    name = items[0]
    if name not in arities:
        known = ", ".join(sorted(arities))
        raise MalformedError(f"unknown operation {name!r} (known: {known})")
    args = items[1:]
    if len(args) != arities[name]:
        raise MalformedError(f"{name} takes {arities[name]} arguments, got {len(args)}")
    return name, args


def check_text_argument(value: str, what: str, *, max_chars: int) -> str:
    """Validate a builder argument: a programmer passing a bad key gets ValueError at once."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_chars:
        raise ValueError(f"{what} must be a str of 1 to {max_chars} characters, got {value!r}")
    return value


def check_int_argument(value: int, what: str) -> int:
    if type(value) is not int or not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"{what} must be an int in [{INT_MIN}, {INT_MAX}], got {value!r}")
    return value


def check_bytes_argument(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError(f"{what} must be bytes, got {type(value).__name__}")
    return value


@attrs.frozen(kw_only=True)
class Result:
    """A decoded service result: ``status`` ("ok", "error" or a refusal) and its value."""

    status: str
    value: bytes | str | int | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def result(status: str, value: bytes | str | int | None) -> bytes:
    """Encode the result ``[status, value]``."""
    return encode([status, value])


def error_result(message: str) -> bytes:
    """The result of an operation the service could not parse or apply."""
    return result("error", message)


def decode_result(data: bytes) -> Result:
    """Decode a result produced by a built-in service; :class:`MalformedError` otherwise."""
    items = expect_array(decode_canonical(data), "result")
    if len(items) != 2:
        raise MalformedError(f"result must be [status, value], got {len(items)} items")
    status = expect_text(items[0], "result status", max_chars=MAX_NAME_CHARS)
    value = items[1]
    if isinstance(value, bool) or not (value is None or isinstance(value, bytes | str | int)):
        raise MalformedError("result value must be bytes, text, an integer or null")
    return Result(status=status, value=value)
