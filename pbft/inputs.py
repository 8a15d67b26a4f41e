"""What can happen to a core: the inputs of :meth:`Replica.step` and :meth:`Client.step`."""

from __future__ import annotations

from typing import TypeAlias

import attrs

from pbft.ids import TimerName
from pbft.messages.types import Envelope


@attrs.frozen(kw_only=True)
class Received:
    """A decoded envelope arrived from the network (not yet verified: the core does that)."""

    envelope: Envelope


@attrs.frozen(kw_only=True)
class TimerFired:
    """Timer ``timer``, armed by a :class:`pbft.effects.StartTimer`, expired."""

    timer: TimerName


@attrs.frozen(kw_only=True)
class Submit:
    """The application asks a client core to run ``operation`` (one outstanding at a time)."""

    operation: bytes


Input: TypeAlias = Received | TimerFired | Submit
