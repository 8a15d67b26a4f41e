"""The discrete-event simulation: the only place simulated effects become actions.

:class:`Simulation` turns a :class:`~pbft.scenario.model.Scenario` into a run. It owns virtual
time (an :class:`~pbft.sim.events.Agenda`), the one seeded random source (split into
independent sub-streams for the network and the workload, so that changing one does not
reshuffle the other), the network model, every node's clock, timers and durable store, and
the trace. Cores are driven exactly as the trio runtime drives them: inputs in, effects out,
effects carried out in list order (docs/architecture.md). docs/simulator.md describes the
model.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, assert_never

import attrs

from pbft.config import Config
from pbft.effects import (
    Broadcast,
    CheckpointStable,
    Completed,
    Effect,
    EnteredView,
    Executed,
    Persist,
    Rejected,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import ReplicaId, TimerName, replica_principal
from pbft.inputs import Received, Submit
from pbft.inputs import TimerFired as TimerInput
from pbft.messages.types import Envelope, Request
from pbft.scenario.model import FAULT_ACTIONS, FaultSpec, LinkModel, Scenario
from pbft.sim import events
from pbft.sim.clock import NodeClock
from pbft.sim.cores import ClientCore, Cores, ReplicaCore
from pbft.sim.network import Network
from pbft.trace import records as rec

if TYPE_CHECKING:
    from adversary.behavior import BehaviorContext

CLIENT_STAGGER_S = 0.001  # client i starts i milliseconds after workload.start_s
PROGRESS_STEPS = 100  # on_progress is called about this many times over the deadline
MAX_EVENTS = 50_000_000  # a guard against a core that schedules work forever at one instant


class SimulationError(ValueError):
    """The scenario cannot be simulated as given (the message names the field)."""


@attrs.define
class Node:
    """One simulated node: its core (None while crashed), clock, timers and durable store."""

    name: str
    replica: ReplicaId | None  # None for clients
    clock: NodeClock = attrs.field(factory=NodeClock)
    core: Any = None
    honest: bool = True
    behavior: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict)
    # timer name -> (local fire time, generation); the generation invalidates stale events
    timers: dict[str, tuple[float, int]] = attrs.field(factory=dict)
    store: dict[str, bytes] = attrs.field(factory=dict)  # survives crashes
    paused: bool = False
    pause_generation: int = 0
    backlog: list[events.Event] = attrs.field(factory=list)
    max_log_slots: int = 0


def cluster_seed_for(seed: int) -> bytes:
    """The key-derivation seed of a simulated cluster: a pure function of the run's seed."""
    return hashlib.sha256(f"pbft-sim-cluster-v1:{seed}".encode()).digest()


def config_for(scenario: Scenario) -> Config:
    """The protocol configuration a scenario's cluster and workload sections describe."""
    return scenario.cluster.config(client_timeout_s=scenario.workload.client_timeout_s)


def fault_end_s(fault: FaultSpec) -> float:
    """When a fault stops acting: pauses and slowdowns last ``duration_s``, others are instant."""
    if fault.action in ("pause", "slow"):
        return fault.at_s + fault.duration_s
    return fault.at_s


class Simulation:
    """One run of one scenario with one seed; :meth:`run` returns the trace."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        cores: Cores,
        wire: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.cores = cores
        self.on_progress = on_progress
        self.config = config_for(scenario)
        _validate(scenario, self.config)
        # The run's one random source; each consumer draws from its own sub-stream, seeded
        # from it in a fixed order, so extra network draws never shift the workload.
        self.rng = random.Random(seed)
        self.network = Network(scenario.network, random.Random(self.rng.getrandbits(64)))
        self.workload_rng = random.Random(self.rng.getrandbits(64))
        self.agenda = events.Agenda()
        self.records: list[rec.Record] = []
        self.now = 0.0
        self.in_flight = 0
        self.next_msg = 0
        self.next_generation = 0
        self.collusion: dict[str, Any] = {}
        self._codec: tuple[Callable[[Envelope], bytes], Callable[[bytes], Envelope]] | None = None
        if wire:
            from pbft.messages import decode, encode

            self._codec = (encode, decode)

        byzantine = {spec.replica: spec for spec in scenario.byzantine}
        self.replica_names = tuple(replica_principal(r) for r in self.config.replicas)
        self.client_names = tuple(f"c{i}" for i in range(scenario.workload.clients))
        self.signers, self.keyring = cores.keys(
            scenario.cluster.crypto,
            cluster_seed_for(seed),
            self.replica_names + self.client_names,
        )
        self.nodes: dict[str, Node] = {}
        for replica in self.config.replicas:
            spec = byzantine.get(replica)
            self.nodes[replica_principal(replica)] = Node(
                name=replica_principal(replica),
                replica=replica,
                honest=spec is None,
                behavior=None if spec is None else spec.behavior,
                params={} if spec is None else dict(spec.params),
            )
        for name in self.client_names:
            self.nodes[name] = Node(name=name, replica=None)
        self.plans = {name: self._plan(name) for name in self.client_names}
        self.submitted: dict[str, int] = dict.fromkeys(self.client_names, 0)
        self.completed_total = 0
        self.requests_total = len(self.client_names) * scenario.workload.requests
        self.last_fault_s = max(
            [scenario.network.gst_s, *(fault_end_s(fault) for fault in scenario.faults)]
        )
        self.deadline_s = scenario.expect.within_s
        self.milestones_pending = 0  # scheduled faults, resumes, GST: the run is not over

    # ----------------------------------------------------------------------------- setup

    def _plan(self, client: str) -> list[bytes]:
        """The operations ``client`` will submit, drawn from the workload sub-stream."""
        workload = self.scenario.workload
        kinds = [kind for kind, _ in workload.mix]
        weights = [weight for _, weight in workload.mix]
        plan = []
        for index in range(workload.requests):
            kind = self.workload_rng.choices(kinds, weights)[0]
            key_index = self.workload_rng.randrange(workload.keys)
            value = f"{client}-{index}".encode()
            plan.append(self.cores.operation(self.scenario.cluster.app, kind, key_index, value))
        return plan

    def _new_replica_core(self, node: Node, stored: Mapping[str, bytes] | None) -> ReplicaCore:
        assert node.replica is not None
        replica = node.replica
        signer = self.signers[node.name]

        def make_honest() -> Any:
            service = self.cores.service(self.scenario.cluster.app)
            if stored is None:
                return self.cores.replica(
                    config=self.config,
                    replica=replica,
                    signer=signer,
                    keyring=self.keyring,
                    service=service,
                )
            return self.cores.recover(
                config=self.config,
                replica=replica,
                signer=signer,
                keyring=self.keyring,
                service=service,
                stored=stored,
            )

        if node.honest:
            core: ReplicaCore = make_honest()
            return core
        assert node.behavior is not None
        return self.cores.behavior(node.behavior, self._behavior_context(node, make_honest))

    def _behavior_context(self, node: Node, make_honest: Callable[[], Any]) -> BehaviorContext:
        from adversary.behavior import BehaviorContext

        assert node.replica is not None

        def report_tamper(kind: str, how: str) -> None:
            self.records.append(
                rec.Tampered(t=self.now, node=node.name, kind=kind, msg=-1, how=how)
            )

        return BehaviorContext(
            config=self.config,
            replica=node.replica,
            signer=self.signers[node.name],
            keyring=self.keyring,
            params=node.params,
            collusion=self.collusion,
            make_honest=make_honest,
            report_tamper=report_tamper,
            clients=self.client_names,
        )

    # ------------------------------------------------------------------------------- run

    def run(self) -> str:
        """Run to the end; return why it ended: "quiescent", "deadline", "idle", "event-limit"."""
        faulty = tuple(name for name, node in self.nodes.items() if not node.honest)
        self.records.append(
            rec.RunStarted(
                t=0.0,
                scenario=self.scenario.name,
                seed=self.seed,
                n=self.config.n,
                f=self.config.f,
                faulty=faulty,
                app=self.scenario.cluster.app,
            )
        )
        for index, fault in enumerate(self.scenario.faults):
            self._push_milestone(fault.at_s, events.FAULT, index)
        spec = self.scenario.network
        if spec.before_gst is not None and spec.gst_s > 0:
            self._push_milestone(spec.gst_s, events.GST)
        for name in self.replica_names:
            node = self.nodes[name]
            node.core = self._new_replica_core(node, stored=None)
            self._apply(node, node.core.start(now_s=node.clock.local(0.0)))
        start_s = self.scenario.workload.start_s
        for index, name in enumerate(self.client_names):
            node = self.nodes[name]
            node.core = self.cores.client(
                config=self.config, client=name, signer=self.signers[name], keyring=self.keyring
            )
            if self.plans[name]:
                self.agenda.push(start_s + index * CLIENT_STAGGER_S, events.SUBMIT, name)
        reason = self._loop()
        self.records.append(rec.RunEnded(t=self.now, reason=reason))
        if self.on_progress is not None:
            self.on_progress(self.now)
        return reason

    def _loop(self) -> str:
        agenda = self.agenda
        progress_step = self.deadline_s / PROGRESS_STEPS
        next_progress = progress_step
        for _ in range(MAX_EVENTS):
            if self._quiescent():
                return "quiescent"
            if not agenda:
                return "idle"  # nothing can happen any more (every node is down)
            if agenda.peek_time() > self.deadline_s:
                self.now = self.deadline_s
                return "deadline"
            t, _seq, kind, a, b, c = agenda.pop()
            self.now = t
            if kind >= events.FAULT:
                self.milestones_pending -= 1
            if self.on_progress is not None and t >= next_progress:
                self.on_progress(t)
                next_progress = t + progress_step
            if kind == events.DELIVER:
                self.in_flight -= 1
                self._on_deliver(a, b, c)
            elif kind == events.TIMER:
                self._on_timer(a, b, c)
            elif kind == events.SUBMIT:
                self._on_submit(a)
            elif kind == events.FAULT:
                self._on_fault(self.scenario.faults[a])
            elif kind == events.RESUME:
                self._on_resume(a, b)
            elif kind == events.SLOW_ENDED:
                self.network.forget_slowdowns_ended_by(t)
                self.records.append(rec.NetworkChanged(t=t, action="slow-ended", detail=a))
            elif kind == events.GST:
                self.records.append(
                    rec.NetworkChanged(t=t, action="gst", detail="network is stable from now on")
                )
            else:  # pragma: no cover - the agenda only holds the kinds above
                raise AssertionError(f"unknown event kind {kind}")
        return "event-limit"

    def _push_milestone(self, t: float, kind: int, a: Any = None, b: Any = None) -> None:
        assert kind >= events.FAULT
        self.milestones_pending += 1
        self.agenda.push(t, kind, a, b)

    def _quiescent(self) -> bool:
        """All requests completed, every fault over, nothing in flight or queued at a node,
        and every correct replica that is up settled in the same place (:meth:`_settled`)."""
        if self.completed_total < self.requests_total or self.in_flight > 0:
            return False
        if self.milestones_pending > 0 or self.now < self.last_fault_s:
            return False
        if any(node.backlog for node in self.nodes.values()):
            return False
        return self._settled()

    def _settled(self) -> bool:
        """Every correct replica that is up is in the same view, not changing views, and has
        executed up to the same sequence number.

        Without this, a run whose clients are done would stop while a replica that was cut
        off, lost messages or restarted still had to catch up at its next Status: its state
        transfer and executions would never reach the trace, so no checker could judge them.
        A replica that cannot settle (cut off for good, alone in a higher view) keeps the run
        going to the deadline, which is what the trace should then show.
        """
        settled_at: tuple[int, int] | None = None
        for node in self.nodes.values():
            if node.replica is None or not node.honest or node.core is None:
                continue
            status = node.core.status()
            if status.view_change_in_progress:
                return False
            here = (int(status.view), int(status.last_executed))
            if settled_at is None:
                settled_at = here
            elif here != settled_at:
                return False
        return True

    # ---------------------------------------------------------------------- event handlers

    def _on_deliver(self, dst: str, origin: tuple[str, int], envelope: Envelope) -> None:
        node = self.nodes[dst]
        src, msg = origin
        kind = type(envelope.payload).__name__
        if node.core is None:
            self.records.append(
                rec.Dropped(t=self.now, src=src, dst=dst, kind=kind, msg=msg, reason="crashed")
            )
            return
        if self.network.partitions and self.network.blocked(src, dst):
            self.records.append(
                rec.Dropped(t=self.now, src=src, dst=dst, kind=kind, msg=msg, reason="partition")
            )
            return
        if node.paused:
            node.backlog.append((self.now, 0, events.DELIVER, dst, origin, envelope))
            return
        self._deliver_now(node, src, msg, envelope)

    def _deliver_now(self, node: Node, src: str, msg: int, envelope: Envelope) -> None:
        kind = type(envelope.payload).__name__
        if self._codec is not None:
            from pbft.messages import DecodeError, EncodeError

            encode, decode = self._codec
            try:
                envelope = decode(encode(envelope))
            except (DecodeError, EncodeError):
                self.records.append(
                    rec.Dropped(
                        t=self.now,
                        src=src,
                        dst=node.name,
                        kind=kind,
                        msg=msg,
                        reason="undecodable",
                    )
                )
                return
        self.records.append(rec.Delivered(t=self.now, src=src, dst=node.name, kind=kind, msg=msg))
        self._step(node, Received(envelope=envelope))

    def _on_timer(self, name: str, timer: str, generation: int) -> None:
        node = self.nodes[name]
        armed = node.timers.get(timer)
        if armed is None or armed[1] != generation or node.core is None:
            return  # stopped, re-armed or re-computed since: a stale event
        if node.paused:
            node.backlog.append((self.now, 0, events.TIMER, name, timer, generation))
            return
        del node.timers[timer]
        self.records.append(rec.TimerFired(t=self.now, node=name, timer=timer))
        self._step(node, TimerInput(timer=TimerName(timer)))

    def _on_submit(self, name: str) -> None:
        node = self.nodes[name]
        index = self.submitted[name]
        operation = self.plans[name][index]
        self.submitted[name] = index + 1
        core: ClientCore = node.core
        effects = core.step(Submit(operation=operation), now_s=node.clock.local(self.now))
        self.records.append(
            rec.Submitted(
                t=self.now,
                client=name,
                timestamp=_request_timestamp(name, effects, fallback=index + 1),
                operation=operation.hex(),
            )
        )
        self._apply(node, effects)

    def _on_resume(self, name: str, generation: int) -> None:
        node = self.nodes[name]
        if not node.paused or node.pause_generation != generation:
            return
        node.paused = False
        self.records.append(rec.Resumed(t=self.now, node=name))
        backlog, node.backlog = node.backlog, []
        for _t, _seq, kind, a, b, c in backlog:
            if node.core is None:
                break
            if kind == events.DELIVER:
                self._deliver_now(node, b[0], b[1], c)
            else:
                self._on_timer(a, b, c)

    # -------------------------------------------------------------------------- faults

    def _on_fault(self, fault: FaultSpec) -> None:
        """Carry out one scheduled fault (FAULT_ACTIONS in pbft/scenario/model.py)."""
        t = self.now
        names = tuple(replica_principal(ReplicaId(r)) for r in fault.replicas)
        match fault.action:
            case "crash":
                for name in names:
                    self._crash(self.nodes[name])
            case "restart":
                for name in names:
                    self._restart(self.nodes[name])
            case "pause":
                for name in names:
                    self._pause(self.nodes[name], fault.duration_s)
            case "partition":
                cut = self.network.partition(fault.groups, oneway=fault.oneway)
                self.records.append(
                    rec.NetworkChanged(t=t, action="partition", detail=cut.describe())
                )
            case "heal":
                self.network.heal()
                self.records.append(
                    rec.NetworkChanged(t=t, action="heal", detail="every partition removed")
                )
            case "clock_skew":
                for name in names:
                    self._skew(self.nodes[name], fault.offset_s, fault.drift)
            case "slow":
                detail = f"{','.join(names)} +{fault.delay_s}s for {fault.duration_s}s"
                self.network.slow(names, delay_s=fault.delay_s, until_s=t + fault.duration_s)
                self.records.append(rec.NetworkChanged(t=t, action="slow", detail=detail))
                self._push_milestone(t + fault.duration_s, events.SLOW_ENDED, detail)
            case other:  # pragma: no cover - _validate rejects unknown actions
                raise AssertionError(f"unknown fault action {other!r}")

    def _crash(self, node: Node) -> None:
        """Crash-stop: the core and everything volatile are gone; the durable store stays."""
        if node.core is None:
            return
        self.records.append(rec.Crashed(t=self.now, node=node.name))
        for _t, _seq, kind, _a, b, c in node.backlog:
            if kind == events.DELIVER:
                self.records.append(
                    rec.Dropped(
                        t=self.now,
                        src=b[0],
                        dst=node.name,
                        kind=type(c.payload).__name__,
                        msg=b[1],
                        reason="crashed",
                    )
                )
        node.core = None
        node.timers.clear()
        node.backlog.clear()
        node.paused = False
        node.pause_generation += 1

    def _restart(self, node: Node) -> None:
        """Crash-recovery: rebuild the core from its durable store, then start it."""
        if node.core is not None:
            self._crash(node)
        node.core = self._new_replica_core(node, stored=dict(node.store))
        self.records.append(rec.Restarted(t=self.now, node=node.name))
        self._apply(node, node.core.start(now_s=node.clock.local(self.now)))

    def _pause(self, node: Node, duration_s: float) -> None:
        if node.core is None:
            return
        self.records.append(rec.Paused(t=self.now, node=node.name, duration_s=duration_s))
        node.paused = True
        node.pause_generation += 1
        self._push_milestone(self.now + duration_s, events.RESUME, node.name, node.pause_generation)

    def _skew(self, node: Node, offset_s: float, drift: float) -> None:
        node.clock.set(real_s=self.now, offset_s=offset_s, drift=drift)
        self.records.append(
            rec.ClockChanged(t=self.now, node=node.name, offset_s=offset_s, drift=drift)
        )
        # Armed timers are in local time: when they fire in real time has just changed.
        for timer in sorted(node.timers):
            self._arm(node, timer, node.timers[timer][0])

    # ------------------------------------------------------------------------- effects

    def _step(self, node: Node, event: Received | TimerInput) -> None:
        effects = node.core.step(event, now_s=node.clock.local(self.now))
        self._apply(node, effects)

    def _apply(self, node: Node, effects: list[Effect]) -> None:
        """Carry out ``effects`` in list order (docs/architecture.md, "Cores")."""
        t = self.now
        for effect in effects:
            match effect:
                case Send(to=to, envelope=envelope):
                    self._send(node.name, to, envelope)
                case Broadcast(envelope=envelope):
                    for name in self.replica_names:
                        if name != node.name:
                            self._send(node.name, name, envelope)
                case StartTimer(timer=timer, fires_at_s=fires_at_s):
                    self._arm(node, timer, fires_at_s)
                case StopTimer(timer=timer):
                    node.timers.pop(timer, None)
                case Persist(key=key, value=value):
                    if value is None:
                        node.store.pop(key, None)
                    else:
                        node.store[key] = value
                case Executed():
                    if node.replica is not None:
                        self.records.append(_executed_record(t, node.replica, effect))
                case EnteredView(view=view):
                    if node.replica is not None:
                        self.records.append(rec.ViewEntered(t=t, replica=node.replica, view=view))
                case CheckpointStable(seq=seq, state_digest=state_digest):
                    if node.replica is not None:
                        self.records.append(
                            rec.CheckpointStabilized(
                                t=t, replica=node.replica, seq=seq, state_digest=state_digest.hex()
                            )
                        )
                case Rejected(sender=sender, reason=reason):
                    self.records.append(
                        rec.Rejected(t=t, node=node.name, sender=sender, reason=reason)
                    )
                case Completed():
                    if node.replica is None:
                        self._on_completed(node, effect)
                case _:
                    assert_never(effect)
        if node.replica is not None and node.honest and node.core is not None:
            slots: int = node.core.status().log_slots
            if slots > node.max_log_slots:
                node.max_log_slots = slots
                self.records.append(
                    rec.LogSize(
                        t=t, replica=node.replica, slots=slots, window=self.config.window_size
                    )
                )

    def _on_completed(self, node: Node, effect: Completed) -> None:
        self.records.append(
            rec.Completed(
                t=self.now,
                client=node.name,
                timestamp=effect.timestamp,
                operation=effect.operation.hex(),
                result=effect.result.hex(),
            )
        )
        self.completed_total += 1
        if self.submitted[node.name] < len(self.plans[node.name]):
            self.agenda.push(self.now + self.scenario.workload.think_s, events.SUBMIT, node.name)

    def _arm(self, node: Node, timer: str, fires_at_s: float) -> None:
        """(Re)arm ``timer`` for local time ``fires_at_s``; stale agenda entries are ignored."""
        self.next_generation += 1
        generation = self.next_generation
        node.timers[timer] = (fires_at_s, generation)
        real_s = max(self.now, node.clock.real_for(fires_at_s))
        self.agenda.push(real_s, events.TIMER, node.name, timer, generation)

    def _send(self, src: str, dst: str, envelope: Envelope) -> None:
        self.next_msg += 1
        msg = self.next_msg
        kind = type(envelope.payload).__name__
        t = self.now
        records = self.records
        records.append(rec.Sent(t=t, src=src, dst=dst, kind=kind, msg=msg))
        if dst not in self.nodes:
            records.append(
                rec.Dropped(t=t, src=src, dst=dst, kind=kind, msg=msg, reason="unknown-destination")
            )
            return
        fate = self.network.transit(src, dst, t)
        if isinstance(fate, str):
            records.append(rec.Dropped(t=t, src=src, dst=dst, kind=kind, msg=msg, reason=fate))
            return
        origin = (src, msg)
        for copy, delay in enumerate(fate):
            if copy > 0:
                records.append(rec.Duplicated(t=t, src=src, dst=dst, kind=kind, msg=msg))
            self.in_flight += 1
            self.agenda.push(t + delay, events.DELIVER, dst, origin, envelope)


def _request_timestamp(client: str, effects: list[Effect], *, fallback: int) -> int:
    """The timestamp the client core gave the request it just sent (§4.1)."""
    for effect in effects:
        if isinstance(effect, Send | Broadcast):
            payload = effect.envelope.payload
            if isinstance(payload, Request) and payload.client == client:
                return payload.timestamp
    return fallback


def _executed_record(t: float, replica: ReplicaId, effect: Executed) -> rec.Executed:
    # Honest replicas execute only requests whose client signature they verified (§4.2), and
    # the Executed effect carries no envelope to re-check: record them as signed.
    return rec.Executed(
        t=t,
        replica=replica,
        view=effect.view,
        seq=effect.seq,
        digest=effect.digest.hex(),
        requests=tuple(
            rec.ExecutedRequest(
                client=request.client,
                timestamp=request.timestamp,
                operation=request.operation.hex(),
                signed=True,
            )
            for request in effect.requests
        ),
        results=tuple(result.hex() for result in effect.results),
    )


def _validate(scenario: Scenario, config: Config) -> None:
    """Reject what the loader would reject too, for scenarios built in code.

    Names follow the TOML keys (``faults[2].duration``), as the loader's messages do. A NaN or
    infinite time would otherwise reach the agenda, whose order it breaks.
    """
    n = config.n
    known = {replica_principal(r) for r in config.replicas}
    known.update(f"c{index}" for index in range(max(scenario.workload.clients, 0)))
    for index, fault in enumerate(scenario.faults):
        where = f"faults[{index}]"
        if fault.action not in FAULT_ACTIONS:
            raise SimulationError(
                f"{where}.action: unknown action {fault.action!r} "
                f"(one of {', '.join(FAULT_ACTIONS)})"
            )
        for replica in fault.replicas:
            if not 0 <= replica < n:
                raise SimulationError(f"{where}.replicas: replica {replica} is not in 0..{n - 1}")
        for name, value in (
            ("at", fault.at_s),
            ("duration", fault.duration_s),
            ("delay", fault.delay_s),
            ("offset", fault.offset_s),
            ("drift", fault.drift),
        ):
            _finite(f"{where}.{name}", value)
        if fault.at_s < 0 or fault.duration_s < 0 or fault.delay_s < 0:
            raise SimulationError(f"{where}: at, duration and delay must be >= 0")
        if fault.action == "clock_skew" and not fault.drift > -1:
            raise SimulationError(f"{where}.drift: must be > -1, got {fault.drift}")
        if fault.action == "partition":
            _validate_groups(f"{where}.groups", fault.groups, known)
    for index, spec in enumerate(scenario.byzantine):
        if not 0 <= spec.replica < n:
            raise SimulationError(
                f"byzantine[{index}].replica: replica {spec.replica} is not in 0..{n - 1}"
            )
    workload = scenario.workload
    if workload.clients < 0 or workload.requests < 0:
        raise SimulationError("workload: clients and requests must be >= 0")
    _at_least_zero("workload.start", workload.start_s)
    _at_least_zero("workload.think", workload.think_s)
    if workload.requests > 0 and workload.clients > 0:
        if workload.keys < 1:
            raise SimulationError(f"workload.keys: must be >= 1, got {workload.keys}")
        if not workload.mix or not sum(weight for _, weight in workload.mix) > 0:
            raise SimulationError("workload.mix: needs at least one operation with weight > 0")
    _finite("expect.within", scenario.expect.within_s)
    if not scenario.expect.within_s > 0:
        raise SimulationError(f"expect.within: must be > 0, got {scenario.expect.within_s}")
    network = scenario.network
    _finite("network.bound", network.bound_s)
    if not network.bound_s > 0:
        raise SimulationError(f"network.bound: must be > 0, got {network.bound_s}")
    _at_least_zero("network.gst", network.gst_s)
    _validate_link("network.after", network.after)
    if network.before_gst is not None:
        _validate_link("network.before_gst", network.before_gst)
    for index, override in enumerate(network.links):
        where = f"network.links[{index}]"
        for side, names in (("from", override.src), ("to", override.dst)):
            if not names:
                raise SimulationError(f"{where}.{side}: needs at least one node")
            for i, node in enumerate(names):
                # A misspelt name would not fail later: the link would keep the base model.
                if node not in known:
                    raise SimulationError(
                        f"{where}.{side}[{i}]: unknown node {node!r} (this run has "
                        f"{', '.join(sorted(known))})"
                    )
        _validate_link(where, override.model)


def _validate_groups(where: str, groups: tuple[tuple[str, ...], ...], known: set[str]) -> None:
    """Each node of a partition is a node of the run and in one group only.

    A misspelt or repeated name would not fail later: a node in no group stays connected to
    everyone, so the partition would silently not be the one written.
    """
    if not groups:
        raise SimulationError(f"{where}: a partition needs at least one group")
    placed: set[str] = set()
    for g, group in enumerate(groups):
        if not group:
            raise SimulationError(f"{where}[{g}]: a group needs at least one node")
        for i, node in enumerate(group):
            if node not in known:
                raise SimulationError(
                    f"{where}[{g}][{i}]: unknown node {node!r} (this run has "
                    f"{', '.join(sorted(known))})"
                )
            if node in placed:
                raise SimulationError(f"{where}[{g}][{i}]: {node} is already in a group")
            placed.add(node)


def _validate_link(where: str, link: LinkModel) -> None:
    for name, probability in (("loss", link.loss), ("duplicate", link.duplicate)):
        if not 0.0 <= probability <= 1.0:
            raise SimulationError(
                f"{where}.{name}: must be a probability in 0..1, got {probability}"
            )
    _at_least_zero(f"{where}.reorder", link.reorder)
    delay = link.delay
    for name, value in (
        ("value", delay.value_s),
        ("low", delay.low_s),
        ("high", delay.high_s),
        ("mean", delay.mean_s),
        ("sigma", delay.sigma),
    ):
        _at_least_zero(f"{where}.delay.{name}", value)
    if delay.high_s < delay.low_s:
        raise SimulationError(
            f"{where}.delay.high: must be at least low ({delay.low_s}), got {delay.high_s}"
        )


def _finite(where: str, value: float) -> None:
    if not math.isfinite(value):
        raise SimulationError(f"{where}: must be a finite number, got {value}")


def _at_least_zero(where: str, value: float) -> None:
    _finite(where, value)
    if value < 0:
        raise SimulationError(f"{where}: must be >= 0, got {value}")
