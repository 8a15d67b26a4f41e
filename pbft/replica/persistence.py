"""What a replica persists so that it never equivocates after a restart, and reading it back.

Stored keys (values are compact canonical CBOR, envelopes inside are
:func:`pbft.messages.encode` bytes):

``view``
    ``[view, active]``: the view the replica is in and whether it entered it (False while it
    waits for the NEW-VIEW). Persisted before any message of that view leaves.
``view-change``
    The VIEW-CHANGE this replica sent for its current view, so it re-sends the same one.
``new-view``
    The NEW-VIEW of the current view (sent as primary or accepted as backup).
``checkpoint``
    ``[seq, state, [proof...]]``: the last stable checkpoint, its encoded state
    (:func:`pbft.replica.checkpoints.encode_state`) and the quorum of CHECKPOINT messages.
``slot/<seq>``
    ``[view, pre_prepare, prepared, committed]`` for a seq in the window: the pre-prepare this
    replica sent or accepted in ``view`` (so it never prepares or proposes another digest for
    that (view, seq)), its highest prepared certificate ``[pre_prepare, [prepares]]`` (for
    later view changes) and its commit certificate ``[pre_prepare, [commits]]`` (so the
    committed log tail above the checkpoint can be replayed).

Decoding trusts nothing it cannot check cheaply: a malformed stored value raises
:class:`StoredStateError` naming the key, rather than producing a half-built replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cbor2

from pbft.ids import Seq, View
from pbft.messages import (
    CommitCertificate,
    DecodeError,
    Envelope,
    PreparedCertificate,
    decode,
    encode,
)
from pbft.replica.log import Slot

VIEW_KEY = "view"
VIEW_CHANGE_KEY = "view-change"
NEW_VIEW_KEY = "new-view"
CHECKPOINT_KEY = "checkpoint"
SLOT_PREFIX = "slot/"


class StoredStateError(ValueError):
    """A persisted value cannot be read back; the message names the key."""


def slot_key(seq: Seq) -> str:
    """The storage key of the slot for ``seq`` (zero-padded so keys sort by seq)."""
    return f"{SLOT_PREFIX}{seq:020d}"


class Encoder:
    """Encodes envelopes for storage, remembering recent ones (a batch is re-stored often)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._cache: dict[int, tuple[Envelope, bytes]] = {}

    def envelope(self, envelope: Envelope) -> bytes:
        cached = self._cache.get(id(envelope))
        if cached is not None and cached[0] is envelope:
            return cached[1]
        data = encode(envelope)
        if len(self._cache) >= self._capacity:
            del self._cache[next(iter(self._cache))]
        # Holding the envelope keeps its id from being reused while the entry lives.
        self._cache[id(envelope)] = (envelope, data)
        return data

    def slot(self, slot: Slot) -> bytes:
        prepared = None
        if slot.prepared is not None:
            prepared = [
                self.envelope(slot.prepared.pre_prepare),
                [self.envelope(member) for member in slot.prepared.prepares],
            ]
        committed = None
        if slot.committed is not None:
            committed = [
                self.envelope(slot.committed.pre_prepare),
                [self.envelope(member) for member in slot.committed.commits],
            ]
        pre_prepare = None if slot.pre_prepare is None else self.envelope(slot.pre_prepare)
        return _dumps([slot.view, pre_prepare, prepared, committed])


@attrs.frozen(kw_only=True)
class StoredSlot:
    seq: Seq
    view: View
    pre_prepare: Envelope | None
    prepared: PreparedCertificate | None
    committed: CommitCertificate | None


@attrs.frozen(kw_only=True)
class StoredState:
    """Everything :meth:`Replica.recover` rebuilds from."""

    view: View
    active: bool
    view_change: Envelope | None
    new_view: Envelope | None
    checkpoint: tuple[Seq, bytes, tuple[Envelope, ...]] | None
    slots: tuple[StoredSlot, ...]


def encode_view(view: View, *, active: bool) -> bytes:
    return _dumps([view, active])


def encode_checkpoint(seq: Seq, state: bytes, proof: tuple[Envelope, ...], enc: Encoder) -> bytes:
    return _dumps([seq, state, [enc.envelope(member) for member in proof]])


def load(stored: Mapping[str, bytes]) -> StoredState:
    """Read back everything :class:`Encoder` and the ``encode_*`` helpers wrote."""
    view, active = View(0), True
    if VIEW_KEY in stored:
        value = _loads(stored, VIEW_KEY)
        if not (
            isinstance(value, list)
            and len(value) == 2
            and type(value[0]) is int
            and value[0] >= 0
            and isinstance(value[1], bool)
        ):
            raise StoredStateError(f"stored {VIEW_KEY!r} is not [view, active]")
        view, active = View(value[0]), value[1]
    checkpoint = None
    if CHECKPOINT_KEY in stored:
        value = _loads(stored, CHECKPOINT_KEY)
        if not (
            isinstance(value, list)
            and len(value) == 3
            and type(value[0]) is int
            and isinstance(value[1], bytes)
            and isinstance(value[2], list)
        ):
            raise StoredStateError(f"stored {CHECKPOINT_KEY!r} is not [seq, state, proof]")
        proof = tuple(_envelope(CHECKPOINT_KEY, member) for member in value[2])
        checkpoint = (Seq(value[0]), value[1], proof)
    slots = []
    for key in sorted(stored):
        if key.startswith(SLOT_PREFIX):
            slots.append(_load_slot(key, stored[key]))
    return StoredState(
        view=view,
        active=active,
        view_change=_optional_envelope(stored, VIEW_CHANGE_KEY),
        new_view=_optional_envelope(stored, NEW_VIEW_KEY),
        checkpoint=checkpoint,
        slots=tuple(slots),
    )


def _load_slot(key: str, data: bytes) -> StoredSlot:
    try:
        seq = Seq(int(key[len(SLOT_PREFIX) :]))
    except ValueError as error:
        raise StoredStateError(f"stored key {key!r} does not name a seq") from error
    value = _loads({key: data}, key)
    if not (isinstance(value, list) and len(value) == 4 and type(value[0]) is int):
        raise StoredStateError(f"stored {key!r} is not [view, pre_prepare, prepared, committed]")
    view, pre_prepare, prepared, committed = value
    return StoredSlot(
        seq=seq,
        view=View(view),
        pre_prepare=None if pre_prepare is None else _envelope(key, pre_prepare),
        prepared=None
        if prepared is None
        else PreparedCertificate(
            pre_prepare=_envelope(key, _pair(key, prepared)[0]),
            prepares=tuple(_envelope(key, m) for m in _pair(key, prepared)[1]),
        ),
        committed=None
        if committed is None
        else CommitCertificate(
            pre_prepare=_envelope(key, _pair(key, committed)[0]),
            commits=tuple(_envelope(key, m) for m in _pair(key, committed)[1]),
        ),
    )


def _pair(key: str, value: Any) -> tuple[Any, list[Any]]:
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list)):
        raise StoredStateError(f"stored {key!r} has a malformed certificate")
    return value[0], value[1]


def _optional_envelope(stored: Mapping[str, bytes], key: str) -> Envelope | None:
    if key not in stored:
        return None
    return _envelope(key, stored[key])


def _envelope(key: str, data: Any) -> Envelope:
    if not isinstance(data, bytes):
        raise StoredStateError(f"stored {key!r} holds a non-bytes envelope")
    try:
        return decode(data)
    except DecodeError as error:
        raise StoredStateError(f"stored {key!r} holds a bad envelope: {error}") from error


def _dumps(value: object) -> bytes:
    return bytes(cbor2.dumps(value, canonical=True))


def _loads(stored: Mapping[str, bytes], key: str) -> Any:
    try:
        return cbor2.loads(stored[key])
    except Exception as error:  # cbor2 raises several types on garbage; all mean "malformed"
        raise StoredStateError(f"stored {key!r} is not CBOR: {error}") from error
