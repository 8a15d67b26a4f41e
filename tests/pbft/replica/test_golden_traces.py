"""Golden interaction traces: every input and every effect of a short run, as checked-in text.

Each trace is rendered from a run of the test harness (inputs in delivery order, each followed
by the effects it produced) and compared with ``testdata/<name>.txt``. A change of behaviour
shows up as a diff to review like code. To accept a deliberate change, regenerate with
``PBFT_REWRITE_GOLDEN=1 python -m pytest tests/pbft/replica/test_golden_traces.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from pbft.config import Config
from pbft.effects import (
    Broadcast,
    CheckpointStable,
    Effect,
    EnteredView,
    Executed,
    Persist,
    Rejected,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import TimerName
from pbft.messages import (
    Checkpoint,
    Commit,
    NewView,
    Payload,
    Prepare,
    PrePrepare,
    Reply,
    Request,
    Status,
    ViewChange,
)
from tests.pbft.replica.harness import Cluster, Delivery

TESTDATA = Path(__file__).parent / "testdata"


def short(digest: bytes) -> str:
    return digest.hex()[:8]


def describe(payload: Payload) -> str:
    match payload:
        case Request(client=c, timestamp=t, operation=o):
            return f"Request {c}:{t} {o!r}"
        case PrePrepare(view=v, seq=n, digest=d, batch=b):
            members = ",".join(f"{m.payload.client}:{m.payload.timestamp}" for m in b)  # type: ignore[union-attr]
            return f"PrePrepare v{v} n{n} {short(d)} [{members}]"
        case Prepare(view=v, seq=n, digest=d, replica=i):
            return f"Prepare v{v} n{n} {short(d)} r{i}"
        case Commit(view=v, seq=n, digest=d, replica=i):
            return f"Commit v{v} n{n} {short(d)} r{i}"
        case Reply(view=v, timestamp=t, client=c, replica=i, result=r):
            return f"Reply v{v} {c}:{t} r{i} {r!r}"
        case Checkpoint(seq=n, state_digest=d, replica=i):
            return f"Checkpoint n{n} {short(d)} r{i}"
        case ViewChange(new_view=v, stable_seq=h, prepared=p, replica=i):
            seqs = ",".join(str(c.pre_prepare.payload.seq) for c in p)  # type: ignore[union-attr]
            return f"ViewChange v{v} h{h} P[{seqs}] r{i}"
        case NewView(view=v, view_changes=vcs, pre_prepares=o):
            senders = ",".join(m.sender for m in vcs)
            seqs = ",".join(f"{m.payload.seq}:{short(m.payload.digest)}" for m in o)  # type: ignore[union-attr]
            return f"NewView v{v} V[{senders}] O[{seqs}]"
        case Status(view=v, stable_seq=h, last_executed=e, replica=i):
            return f"Status v{v} h{h} e{e} r{i}"
    return type(payload).__name__


def render_effect(effect: Effect) -> str:
    match effect:
        case Send(to=to, envelope=e):
            return f"  Send to {to}: {describe(e.payload)}"
        case Broadcast(envelope=e):
            return f"  Broadcast {e.sender}: {describe(e.payload)}"
        case StartTimer(timer=t, fires_at_s=at):
            return f"  StartTimer {t} at {at:.3f}"
        case StopTimer(timer=t):
            return f"  StopTimer {t}"
        case Persist(key=k, value=v):
            return f"  Persist {k} {'delete' if v is None else f'{len(v)} bytes'}"
        case Executed(seq=n, view=v, requests=rs, results=res):
            done = ",".join(f"{r.client}:{r.timestamp}={x!r}" for r, x in zip(rs, res, strict=True))
            return f"  Executed v{v} n{n} [{done}]"
        case EnteredView(view=v):
            return f"  EnteredView v{v}"
        case CheckpointStable(seq=n, state_digest=d):
            return f"  CheckpointStable n{n} {short(d)}"
        case Rejected(sender=s, reason=r):
            return f"  Rejected from {s}: {r}"
    return f"  {effect!r}"


class RecordingCluster(Cluster):
    """The harness, writing each input and its effects to ``lines``."""

    def __init__(self, config: Config) -> None:
        self.lines: list[str] = []
        self.current: str | None = None
        self.quiet = False  # periodic status traffic is carried out but not recorded
        super().__init__(config)

    def start(self) -> None:
        self.lines.append("# every replica starts")
        super().start()

    def apply(self, i: int, effects: Iterable[Effect]) -> None:
        effects = list(effects)
        if not self.quiet:
            if self.current is not None:
                self.lines.append(self.current)
                self.current = None
            self.lines.extend(
                render_effect(e)
                for e in effects
                if not (isinstance(e, StartTimer | StopTimer) and e.timer == "status")
            )
        super().apply(i, effects)

    def deliver(self, delivery: Delivery) -> None:
        payload = delivery.envelope.payload
        self.quiet = isinstance(payload, Status)
        if delivery.to.startswith("r") and int(delivery.to[1:]) not in self.crashed:
            self.current = (
                f"t={self.now_s:.3f} {delivery.to} <- {describe(payload)} (from {delivery.sender})"
            )
        super().deliver(delivery)
        self.current = None
        self.quiet = False

    def fire(self, i: int, timer: str) -> list[Effect]:
        self.quiet = timer == "status"
        self.current = f"t={self.now_s:.3f} r{i} timer {timer} fired"
        try:
            return super().fire(i, TimerName(timer))
        finally:
            self.current = None
            self.quiet = False


def normal_case() -> list[str]:
    config = Config.for_f(1, batch_delay_s=0.0, checkpoint_interval=2, window_size=4)
    cluster = RecordingCluster(config)
    cluster.start()
    cluster.lines.append("# client c0 sends a request to the primary r0")
    cluster.submit("c0", b"a")
    cluster.flush()
    cluster.lines.append("# a second request reaches checkpoint 2")
    cluster.submit("c1", b"b")
    cluster.flush()
    return cluster.lines


def primary_crash() -> list[str]:
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        adaptive_timeouts=False,
        view_change_timeout_s=1.0,
        status_interval_s=0.5,
    )
    cluster = RecordingCluster(config)
    cluster.start()
    cluster.lines.append("# r0 crashes; c0 retransmits its request to every replica")
    cluster.crash(0)
    cluster.submit("c0", b"a", to=[1, 2, 3])
    cluster.run(2.5)
    return cluster.lines


TRACES: dict[str, Callable[[], list[str]]] = {
    "normal_case": normal_case,
    "primary_crash": primary_crash,
}


@pytest.mark.parametrize("name", sorted(TRACES))
def test_interaction_trace_matches_the_golden_file(name: str) -> None:
    rendered = "\n".join(TRACES[name]()) + "\n"
    path = TESTDATA / f"{name}.txt"
    if os.environ.get("PBFT_REWRITE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with PBFT_REWRITE_GOLDEN=1"
    assert rendered == path.read_text(encoding="utf-8")
