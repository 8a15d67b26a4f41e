"""The simulator's agenda: events ordered by virtual time, ties broken by insertion order.

Ties matter for determinism: two events at the same virtual time always run in the order they
were scheduled, because each carries a run-unique, increasing sequence number. Events are
plain tuples ``(t, seq, kind, a, b, c)`` for speed; ``kind`` is one of the constants below and
``a``, ``b``, ``c`` are its arguments (see :mod:`pbft.sim.runner`).
"""

from __future__ import annotations

import heapq
from typing import Any

DELIVER = 0  # a: destination name, b: (source name, message number), c: envelope
TIMER = 1  # a: node name, b: timer name, c: generation
SUBMIT = 2  # a: client name
# Kinds from FAULT on are milestones: a run is not over while one is pending.
FAULT = 3  # a: index into scenario.faults
RESUME = 4  # a: node name, b: pause generation
SLOW_ENDED = 5  # a: description
GST = 6

Event = tuple[float, int, int, Any, Any, Any]


class Agenda:
    """A min-heap of events; ``pop`` returns the earliest, first-scheduled one."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, t: float, kind: int, a: Any = None, b: Any = None, c: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b, c))

    def pop(self) -> Event:
        return heapq.heappop(self._heap)

    def peek_time(self) -> float:
        return self._heap[0][0]
