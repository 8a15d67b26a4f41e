"""A read-only snapshot of a replica's progress, for drivers, traces and tests."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from pbft.ids import ReplicaId, Seq, View


@attrs.frozen(kw_only=True)
class ReplicaStatus:
    """Where replica ``replica`` stands.

    ``low_mark``/``high_mark`` are the watermarks h and H = h + L of §4.3 (``low_mark`` is the
    last stable checkpoint), ``log_slots`` the number of sequence numbers the message log holds
    (bounded by the window), ``rejections`` the count of rejected messages per reason.
    """

    replica: ReplicaId
    view: View
    low_mark: Seq
    high_mark: Seq
    last_executed: Seq
    stable_seq: Seq
    view_change_in_progress: bool
    log_slots: int
    rejections: Mapping[str, int] = attrs.field(hash=False)
