"""Saving and loading traces as JSON lines (docs/trace-format.md).

A trace file holds one canonical JSON object per line (:func:`pbft.trace.records.to_json`),
each ending in a newline. :func:`trace_sha256` hashes exactly the bytes :func:`write_trace`
writes, so the digest printed for a run identifies the file saved from it.

Reading is strict: every line must be a known record whose fields have the documented JSON
types; the first bad line raises :class:`TraceFormatError` naming the file and line number.
I/O failures (missing file, not UTF-8) are reported as the same exception, so a caller that
re-judges a saved trace has one error to catch.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable
from typing import IO, Any

import attrs

from pbft.trace.records import (
    ExecutedRequest,
    Record,
    TraceFormatError,
    from_json,
    to_json,
)

__all__ = ["TraceFormatError", "read_trace", "trace_sha256", "write_trace"]

PathOrStream = str | os.PathLike[str] | IO[str]


def write_trace(target: PathOrStream, records: Iterable[Record]) -> None:
    """Write ``records`` as JSON lines to a path (created or truncated) or an open text stream."""
    if isinstance(target, str | os.PathLike):
        with open(target, "w", encoding="utf-8", newline="\n") as stream:
            _write_lines(stream, records)
    else:
        _write_lines(target, records)


def _write_lines(stream: IO[str], records: Iterable[Record]) -> None:
    for record in records:
        stream.write(to_json(record))
        stream.write("\n")


def trace_sha256(records: Iterable[Record]) -> str:
    """Hex SHA-256 of the file :func:`write_trace` would write for ``records``."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(to_json(record).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def read_trace(source: PathOrStream) -> list[Record]:
    """Parse a JSON-lines trace; raise :class:`TraceFormatError` naming the first bad line."""
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        try:
            with open(source, encoding="utf-8", newline="") as stream:
                text = stream.read()
        except OSError as error:
            raise TraceFormatError(f"{name}: cannot read trace: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise TraceFormatError(f"{name}: not UTF-8 text: {error.reason}") from None
    else:
        name = getattr(source, "name", "<stream>")
        text = source.read()
    return parse_trace(text, name=str(name))


def parse_trace(text: str, *, name: str = "<string>") -> list[Record]:
    """Parse the text of a trace file (see :func:`read_trace`)."""
    records: list[Record] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last record
    for number, line in enumerate(lines, start=1):
        try:
            records.append(parse_line(line))
        except TraceFormatError as error:
            raise TraceFormatError(f"{name}:{number}: {error}") from None
    return records


def parse_line(line: str) -> Record:
    """One record from one line, with every field checked against its declared type."""
    if not line.strip():
        raise TraceFormatError("empty line")
    checked: Record = _checked(from_json(line))
    return checked


def _checked(record: Any) -> Any:
    """Check field types of a parsed record; widen JSON integers in float fields to floats."""
    name = type(record).__name__
    widened: dict[str, float] = {}
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        check = _CHECKS.get(str(field.type))
        if check is None:  # pragma: no cover - a record type this module does not know
            raise AssertionError(f"no type check for {name}.{field.name}: {field.type}")
        problem = check(value)
        if problem is not None:
            raise TraceFormatError(f"bad {name} record: field {field.name!r} {problem}")
        if str(field.type) == "float" and not isinstance(value, float):
            widened[field.name] = float(value)
    _check_hex_fields(record)
    if widened:
        record = attrs.evolve(record, **widened)
    return record


def _int_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {value!r}"
    return None


def _float_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be finite, got {value!r}"
    return None


def _str_problem(value: object) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {value!r}"


def _bool_problem(value: object) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _hex_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a hex string, got {value!r}"
    try:
        bytes.fromhex(value)
    except ValueError:
        return f"must be a hex string, got {value!r}"
    return None


def _str_tuple_problem(value: object) -> str | None:
    if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
        return f"must be a list of strings, got {value!r}"
    return None


def _requests_problem(value: object) -> str | None:
    if not isinstance(value, tuple):
        return f"must be a list of requests, got {value!r}"
    for index, item in enumerate(value):
        assert isinstance(item, ExecutedRequest)  # from_json builds them or fails
        try:
            _checked(item)
        except TraceFormatError as error:
            return f"item {index}: {error}"
    return None


_CHECKS: dict[str, Callable[[object], str | None]] = {
    "int": _int_problem,
    "float": _float_problem,
    "str": _str_problem,
    "bool": _bool_problem,
    "tuple[str, ...]": _str_tuple_problem,
    "tuple[ExecutedRequest, ...]": _requests_problem,
}

# Fields documented as hex strings get the stricter check (sorted: checked in a fixed order).
_HEX_FIELDS: tuple[tuple[str, str], ...] = (
    ("CheckpointStabilized", "state_digest"),
    ("Completed", "operation"),
    ("Completed", "result"),
    ("Executed", "digest"),
    ("ExecutedRequest", "operation"),
    ("Submitted", "operation"),
)


def _check_hex_fields(record: Any) -> None:
    name = type(record).__name__
    for record_name, field_name in _HEX_FIELDS:
        if record_name == name:
            problem = _hex_problem(getattr(record, field_name))
            if problem is not None:
                raise TraceFormatError(f"bad {name} record: field {field_name!r} {problem}")
    if name == "Executed":
        for index, result in enumerate(record.results):
            if _hex_problem(result) is not None:
                raise TraceFormatError(f"bad Executed record: results[{index}] is not hex")
