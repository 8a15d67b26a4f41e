"""Trace records: what happened in a run, in the order it happened.

A trace is a sequence of records, each stamped with the virtual (or, in the trio runtime,
monotonic) time ``t`` in seconds at which the run observed it. Records are past-tense nouns.
Checkers judge safety and liveness from a trace alone, so a saved trace can be re-judged.

On disk a trace is JSON lines (docs/trace-format.md): one object per line with a ``"record"``
key naming the class and the fields below; bytes are lowercase hex strings. ``to_json`` and
``from_json`` are exact inverses, and serialisation is canonical (sorted keys, no spaces), so a
trace's SHA-256 identifies a run.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import attrs


@attrs.frozen(kw_only=True)
class RunStarted:
    t: float
    scenario: str
    seed: int
    n: int
    f: int
    faulty: tuple[str, ...]  # Byzantine principals; crashed replicas stay correct until they crash
    app: str = (
        ""  # the replicated service ("kv", ...), so a saved trace can be replayed; "" unknown
    )


@attrs.frozen(kw_only=True)
class Sent:
    t: float
    src: str
    dst: str
    kind: str  # payload class name, e.g. "PrePrepare"
    msg: int  # run-unique message number


@attrs.frozen(kw_only=True)
class Delivered:
    t: float
    src: str
    dst: str
    kind: str
    msg: int


@attrs.frozen(kw_only=True)
class Dropped:
    t: float
    src: str
    dst: str
    kind: str
    msg: int
    reason: str  # "loss", "partition", "crashed", "paused-overflow", ...


@attrs.frozen(kw_only=True)
class Duplicated:
    t: float
    src: str
    dst: str
    kind: str
    msg: int


@attrs.frozen(kw_only=True)
class Tampered:
    """A Byzantine node rewrote, forged or invented a message (adversary bookkeeping)."""

    t: float
    node: str
    kind: str
    msg: int
    how: str


@attrs.frozen(kw_only=True)
class TimerFired:
    t: float
    node: str
    timer: str


@attrs.frozen(kw_only=True)
class Crashed:
    t: float
    node: str


@attrs.frozen(kw_only=True)
class Restarted:
    t: float
    node: str


@attrs.frozen(kw_only=True)
class Paused:
    t: float
    node: str
    duration_s: float


@attrs.frozen(kw_only=True)
class Resumed:
    t: float
    node: str


@attrs.frozen(kw_only=True)
class ClockChanged:
    t: float
    node: str
    offset_s: float
    drift: float  # rate error: local clock advances (1 + drift) seconds per real second


@attrs.frozen(kw_only=True)
class NetworkChanged:
    """A partition, heal or other change of the network model took effect."""

    t: float
    action: str
    detail: str


@attrs.frozen(kw_only=True)
class Submitted:
    t: float
    client: str
    timestamp: int
    operation: str  # hex


@attrs.frozen(kw_only=True)
class Completed:
    t: float
    client: str
    timestamp: int
    operation: str  # hex
    result: str  # hex


@attrs.frozen(kw_only=True)
class ExecutedRequest:
    client: str
    timestamp: int
    operation: str  # hex
    signed: bool  # True when the replica verified the client's signature on it


@attrs.frozen(kw_only=True)
class Executed:
    t: float
    replica: int
    view: int
    seq: int
    digest: str  # hex
    requests: tuple[ExecutedRequest, ...]
    results: tuple[str, ...]  # hex, one per request


@attrs.frozen(kw_only=True)
class ViewEntered:
    t: float
    replica: int
    view: int


@attrs.frozen(kw_only=True)
class CheckpointStabilized:
    t: float
    replica: int
    seq: int
    state_digest: str  # hex


@attrs.frozen(kw_only=True)
class Rejected:
    t: float
    node: str
    sender: str
    reason: str


@attrs.frozen(kw_only=True)
class LogSize:
    """A replica's message log reached a new maximum number of sequence-number slots."""

    t: float
    replica: int
    slots: int
    window: int


@attrs.frozen(kw_only=True)
class RunEnded:
    t: float
    reason: str  # "quiescent", "deadline", "all-completed"


Record: TypeAlias = (
    RunStarted
    | Sent
    | Delivered
    | Dropped
    | Duplicated
    | Tampered
    | TimerFired
    | Crashed
    | Restarted
    | Paused
    | Resumed
    | ClockChanged
    | NetworkChanged
    | Submitted
    | Completed
    | Executed
    | ViewEntered
    | CheckpointStabilized
    | Rejected
    | LogSize
    | RunEnded
)

RECORD_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        Sent,
        Delivered,
        Dropped,
        Duplicated,
        Tampered,
        TimerFired,
        Crashed,
        Restarted,
        Paused,
        Resumed,
        ClockChanged,
        NetworkChanged,
        Submitted,
        Completed,
        Executed,
        ViewEntered,
        CheckpointStabilized,
        Rejected,
        LogSize,
        RunEnded,
    )
}


class TraceFormatError(ValueError):
    """A trace line is not a record this version understands."""


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return {
            field.name: _plain(getattr(value, field.name)) for field in attrs.fields(type(value))
        }
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def to_json(record: Record) -> str:
    """One canonical JSON line (without the newline) for ``record``."""
    body = _plain(record)
    body["record"] = type(record).__name__
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)


def from_json(line: str) -> Record:
    """Parse one JSON line back into its record; raise :class:`TraceFormatError` otherwise."""
    try:
        body = json.loads(line)
    except json.JSONDecodeError as error:
        raise TraceFormatError(f"not JSON: {error}") from None
    if not isinstance(body, dict) or not isinstance(body.get("record"), str):
        raise TraceFormatError("a trace line must be an object with a 'record' name")
    name = body.pop("record")
    cls = RECORD_TYPES.get(name)
    if cls is None:
        raise TraceFormatError(f"unknown record {name!r}")
    try:
        if cls is Executed:
            body["requests"] = tuple(ExecutedRequest(**item) for item in body["requests"])
        for field in attrs.fields(cls):
            if isinstance(body.get(field.name), list):
                body[field.name] = tuple(body[field.name])
        return cls(**body)  # type: ignore[no-any-return]
    except (TypeError, KeyError) as error:
        raise TraceFormatError(f"bad {name} record: {error}") from None
