"""Everything the protocol cores ask their driver to do or to know.

A core (:class:`pbft.replica.Replica`, :class:`pbft.client.Client`) never performs I/O: each
call returns a list of effects, and the driver (simulator or trio runtime) carries them out
*in list order*. Order matters: a :class:`Persist` precedes the sends that depend on it, so a
replica that crashes after persisting never takes back a promise it already made.

Imperative effects (Send, Broadcast, StartTimer, StopTimer, Persist) are work for the driver;
past-tense effects (Executed, EnteredView, CheckpointStable, Rejected, Completed) report what
happened inside the core so drivers can trace it and checkers can judge it.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from pbft.ids import Principal, ReplicaId, Seq, TimerName, View
from pbft.messages.types import Envelope, Request


@attrs.frozen(kw_only=True)
class Send:
    """Deliver ``envelope`` to the principal ``to`` (a replica or a client)."""

    to: Principal
    envelope: Envelope


@attrs.frozen(kw_only=True)
class Broadcast:
    """Deliver ``envelope`` to every replica except the sender itself."""

    envelope: Envelope


@attrs.frozen(kw_only=True)
class StartTimer:
    """(Re)arm timer ``timer`` to fire at local time ``fires_at_s``; replaces an armed one."""

    timer: TimerName
    fires_at_s: float


@attrs.frozen(kw_only=True)
class StopTimer:
    """Disarm timer ``timer`` if it is armed."""

    timer: TimerName


@attrs.frozen(kw_only=True)
class Persist:
    """Durably store ``value`` under ``key`` (``None`` deletes it) before any later effect."""

    key: str
    value: bytes | None


@attrs.frozen(kw_only=True)
class Executed:
    """The replica executed the committed batch at ``seq`` on its service."""

    replica: ReplicaId
    view: View
    seq: Seq
    digest: bytes
    requests: tuple[Request, ...]
    results: tuple[bytes, ...]


@attrs.frozen(kw_only=True)
class EnteredView:
    """The replica entered view ``view`` (after NEW-VIEW, or view 0 at start)."""

    replica: ReplicaId
    view: View


@attrs.frozen(kw_only=True)
class CheckpointStable:
    """The checkpoint at ``seq`` became stable here; the log below it was garbage-collected."""

    replica: ReplicaId
    seq: Seq
    state_digest: bytes


@attrs.frozen(kw_only=True)
class Rejected:
    """A message from ``sender`` was rejected for ``reason`` (counted in the core's stats)."""

    sender: Principal
    reason: str
    detail: str = ""


@attrs.frozen(kw_only=True)
class Completed:
    """The client accepted ``result`` for its request ``timestamp`` (f+1 matching replies)."""

    client: Principal
    timestamp: int
    operation: bytes
    result: bytes


Effect: TypeAlias = (
    Send
    | Broadcast
    | StartTimer
    | StopTimer
    | Persist
    | Executed
    | EnteredView
    | CheckpointStable
    | Rejected
    | Completed
)
