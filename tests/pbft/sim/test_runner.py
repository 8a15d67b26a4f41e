"""The simulation loop, driven with fake cores: determinism, the trace, faults, clocks, timers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbft.scenario.model import (
    ByzantineSpec,
    ClusterSpec,
    Delay,
    ExpectSpec,
    FaultSpec,
    LinkModel,
    NetworkSpec,
    Scenario,
    WorkloadSpec,
)
from pbft.sim import SimRun, Simulation, SimulationError, simulate
from pbft.trace import records as rec
from pbft.trace.io import trace_sha256

from .fakes import FakeCores

T = TypeVar("T")

FAST_LINK = LinkModel(delay=Delay(dist="fixed", value_s=0.001))


def scenario(
    *,
    faults: Sequence[FaultSpec] = (),
    link: LinkModel = FAST_LINK,
    requests: int = 3,
    clients: int = 1,
    within_s: float = 5.0,
    **fields: object,
) -> Scenario:
    base = Scenario(
        name="fake",
        seed=11,
        cluster=ClusterSpec(f=1),
        network=NetworkSpec(after=link),
        workload=WorkloadSpec(clients=clients, requests=requests),
        faults=tuple(faults),
        expect=ExpectSpec(within_s=within_s),
    )
    return attrs.evolve(base, **fields)  # type: ignore[arg-type]


def run(s: Scenario, *, seed: int | None = None, cores: FakeCores | None = None) -> SimRun:
    return simulate(s, seed=seed, cores=cores if cores is not None else FakeCores())


def of_type(records: Sequence[rec.Record], kind: type[T]) -> list[T]:
    return [record for record in records if isinstance(record, kind)]


def until(t: float) -> FaultSpec:
    """A no-op fault at ``t``: keeps an otherwise idle run going until then."""
    return FaultSpec(at_s=t, action="heal")


NOISY = LinkModel(
    delay=Delay(dist="uniform", low_s=0.001, high_s=0.02), loss=0.05, duplicate=0.05, reorder=0.5
)


def test_the_same_scenario_and_seed_give_a_byte_identical_trace() -> None:
    noisy = scenario(
        link=NOISY,
        clients=3,
        requests=10,
        faults=[
            FaultSpec(at_s=0.05, action="pause", replicas=(2,), duration_s=0.1),
            FaultSpec(at_s=0.1, action="crash", replicas=(1,)),
            FaultSpec(at_s=0.2, action="restart", replicas=(1,)),
        ],
    )
    first, second = run(noisy), run(noisy)
    assert trace_sha256(first.records) == trace_sha256(second.records)
    assert first.records == second.records


def test_another_seed_gives_another_trace() -> None:
    noisy = scenario(link=NOISY, clients=2, requests=5)
    assert trace_sha256(run(noisy, seed=1).records) != trace_sha256(run(noisy, seed=2).records)


def test_the_seed_defaults_to_the_scenarios_own() -> None:
    noisy = scenario(link=NOISY)
    assert run(noisy).seed == 11
    assert run(noisy).records == run(noisy, seed=11).records


def test_a_healthy_run_completes_every_request_and_ends_quiescent() -> None:
    result = run(scenario(clients=2, requests=4))
    records = result.records
    started = records[0]
    assert isinstance(started, rec.RunStarted)
    assert (started.n, started.f, started.faulty, started.seed) == (4, 1, (), 11)
    assert len(of_type(records, rec.Submitted)) == 8
    assert len(of_type(records, rec.Completed)) == 8
    assert records[-1] == rec.RunEnded(t=result.end_time_s, reason="quiescent")
    assert result.end_reason == "quiescent"
    assert result.end_time_s < 1.0
    assert result.correct_replicas == (0, 1, 2, 3)
    assert result.faulty_replicas == ()
    assert sorted(result.replica_status) == [0, 1, 2, 3]


def test_each_client_submits_one_request_at_a_time_with_increasing_timestamps() -> None:
    records = run(scenario(requests=4)).records
    events = [r for r in records if isinstance(r, rec.Submitted | rec.Completed)]
    assert [type(r).__name__ for r in events] == ["Submitted", "Completed"] * 4
    assert [r.timestamp for r in of_type(records, rec.Submitted)] == [1, 2, 3, 4]
    for submitted, completed in zip(events[::2], events[1::2], strict=True):
        assert submitted.operation == completed.operation


def test_think_time_separates_a_completion_from_the_next_request() -> None:
    s = attrs.evolve(scenario(requests=3), workload=WorkloadSpec(requests=3, think_s=0.25))
    records = run(s).records
    completed = of_type(records, rec.Completed)
    submitted = of_type(records, rec.Submitted)
    for done, following in zip(completed, submitted[1:], strict=False):
        assert following.t == pytest.approx(done.t + 0.25)


def test_clients_start_staggered_after_the_workload_start() -> None:
    s = attrs.evolve(scenario(), workload=WorkloadSpec(clients=3, requests=1, start_s=0.5))
    starts = [(r.client, r.t) for r in of_type(run(s).records, rec.Submitted)]
    assert starts == [("c0", 0.5), ("c1", pytest.approx(0.501)), ("c2", pytest.approx(0.502))]


def test_operations_follow_the_mix_and_key_space() -> None:
    s = attrs.evolve(
        scenario(), workload=WorkloadSpec(requests=40, mix=(("put", 1.0), ("get", 0.0)), keys=3)
    )
    operations = [bytes.fromhex(r.operation) for r in of_type(run(s).records, rec.Submitted)]
    assert all(op.startswith(b"put:") for op in operations)
    assert {op.split(b":")[1] for op in operations} == {b"0", b"1", b"2"}


def test_every_send_is_traced_and_broadcast_reaches_every_replica_but_the_sender() -> None:
    records = run(scenario(requests=1)).records
    requests = [r for r in of_type(records, rec.Sent) if r.kind == "Request"]
    assert sorted(r.dst for r in requests) == ["r0", "r1", "r2", "r3"]
    replies = [r for r in of_type(records, rec.Sent) if r.kind == "Reply"]
    assert sorted(r.src for r in replies) == ["r0", "r1", "r2", "r3"]
    assert len({r.msg for r in of_type(records, rec.Sent)}) == len(of_type(records, rec.Sent))
    delivered = {r.msg for r in of_type(records, rec.Delivered)}
    assert delivered == {r.msg for r in of_type(records, rec.Sent)}


def test_lost_messages_are_traced_as_dropped_and_duplicates_delivered_twice() -> None:
    lossy = LinkModel(delay=Delay(dist="fixed", value_s=0.001), loss=0.2, duplicate=0.2)
    records = run(scenario(link=lossy, requests=20)).records
    lost = [r for r in of_type(records, rec.Dropped) if r.reason == "loss"]
    duplicated = of_type(records, rec.Duplicated)
    assert lost
    assert duplicated
    for copy in duplicated:
        deliveries = [r for r in of_type(records, rec.Delivered) if r.msg == copy.msg]
        assert len(deliveries) == 2
    assert len(of_type(records, rec.Completed)) == 20  # retransmission got through


def test_executions_views_and_log_growth_are_traced() -> None:
    records = run(scenario(requests=3)).records
    executed = of_type(records, rec.Executed)
    assert {r.replica for r in executed} == {0, 1, 2, 3}
    first = executed[0]
    assert first.seq == 1
    assert first.requests[0].client == "c0"
    assert first.requests[0].signed
    assert first.results[0] == (b"ok:" + bytes.fromhex(first.requests[0].operation)).hex()
    assert sorted(r.replica for r in of_type(records, rec.ViewEntered)) == [0, 1, 2, 3]
    sizes = [r.slots for r in of_type(records, rec.LogSize) if r.replica == 0]
    assert sizes == [1, 2, 3]
    assert all(r.window == 32 for r in of_type(records, rec.LogSize))


def test_the_run_stops_at_the_deadline_when_requests_cannot_complete() -> None:
    cut = FaultSpec(at_s=0.0, action="partition", groups=(("c0",), ("r0", "r1", "r2", "r3")))
    result = run(scenario(faults=[cut], within_s=2.0))
    assert result.end_reason == "deadline"
    assert result.records[-1] == rec.RunEnded(t=2.0, reason="deadline")
    assert not of_type(result.records, rec.Completed)
    assert any(r.reason == "partition" for r in of_type(result.records, rec.Dropped))
    changed = of_type(result.records, rec.NetworkChanged)
    assert changed[0].action == "partition"
    assert "c0 | r0,r1,r2,r3" in changed[0].detail


def test_a_partition_heals_and_the_run_then_completes() -> None:
    faults = [
        FaultSpec(at_s=0.0, action="partition", groups=(("c0",), ("r0", "r1", "r2", "r3"))),
        FaultSpec(at_s=1.0, action="heal"),
    ]
    result = run(scenario(faults=faults))
    assert result.end_reason == "quiescent"
    assert len(of_type(result.records, rec.Completed)) == 3
    assert of_type(result.records, rec.Completed)[0].t > 1.0
    assert [r.action for r in of_type(result.records, rec.NetworkChanged)] == ["partition", "heal"]


def test_a_oneway_partition_drops_only_what_the_first_group_sends() -> None:
    cut = FaultSpec(at_s=0.0, action="partition", groups=(("r0",), ("c0",)), oneway=True)
    records = run(scenario(faults=[cut], requests=1)).records
    dropped = [r for r in of_type(records, rec.Dropped) if r.reason == "partition"]
    assert dropped
    assert all((r.src, r.dst) == ("r0", "c0") for r in dropped)
    assert any(r.dst == "r0" and r.kind == "Request" for r in of_type(records, rec.Delivered))


def test_a_crashed_replica_receives_nothing_and_its_timers_stop() -> None:
    result = run(scenario(faults=[FaultSpec(at_s=0.0005, action="crash", replicas=(3,))]))
    records = result.records
    assert rec.Crashed(t=0.0005, node="r3") in records
    late = [r for r in records if getattr(r, "t", 0) > 0.0005]
    assert not any(isinstance(r, rec.Delivered) and r.dst == "r3" for r in late)
    assert not any(isinstance(r, rec.TimerFired) and r.node == "r3" for r in late)
    assert any(r.reason == "crashed" and r.dst == "r3" for r in of_type(records, rec.Dropped))
    assert result.down_replicas == (3,)
    assert 3 in result.correct_replicas  # crash faults are traced; checkers decide
    assert 3 not in result.replica_status


def test_a_run_whose_clients_are_done_goes_on_while_a_correct_replica_lags_behind() -> None:
    cut = FaultSpec(at_s=0.0, action="partition", groups=(("c0",), ("r3",)))
    result = run(scenario(faults=[cut], within_s=3.0))
    assert len(of_type(result.records, rec.Completed)) == 3  # r0..r2 answered
    assert result.replica_status[3].last_executed == 0  # r3 never got a request
    assert result.end_reason == "deadline"
    assert result.end_time_s == 3.0


def test_a_crashed_or_byzantine_replica_does_not_hold_the_run_open() -> None:
    crash = FaultSpec(at_s=0.0, action="crash", replicas=(3,))
    silent = (ByzantineSpec(replica=2, behavior="silent"),)
    result = run(scenario(faults=[crash], byzantine=silent, within_s=3.0))
    assert len(of_type(result.records, rec.Completed)) == 3
    assert result.end_reason == "quiescent"
    assert result.end_time_s < 1.0


def test_a_restarted_replica_recovers_from_what_it_persisted_and_nothing_else() -> None:
    cores = FakeCores()
    faults = [
        FaultSpec(at_s=0.02, action="crash", replicas=(1,)),
        FaultSpec(at_s=0.2, action="restart", replicas=(1,)),
    ]
    s = attrs.evolve(scenario(faults=faults), workload=WorkloadSpec(requests=1, start_s=0.3))
    s = attrs.evolve(s, workload=WorkloadSpec(requests=2, start_s=0.0, think_s=0.3))
    records = run(s, cores=cores).records
    assert cores.recovered_from == [{"seq": b"1"}]
    assert rec.Restarted(t=0.2, node="r1") in records
    before, after = cores.replicas[1]
    assert before.seq == 1
    assert after.seq == 2  # numbering continued from the durable store
    assert after.executed.keys() == {("c0", 2)}  # volatile state was lost
    view_entries = [r for r in of_type(records, rec.ViewEntered) if r.replica == 1]
    assert [r.t for r in view_entries] == [0.0, 0.2]


def test_restarting_a_running_replica_crashes_it_first() -> None:
    records = run(scenario(faults=[FaultSpec(at_s=0.1, action="restart", replicas=(0,))])).records
    kinds = [type(r).__name__ for r in records if getattr(r, "node", None) == "r0"]
    assert kinds.index("Crashed") + 1 == kinds.index("Restarted")


def test_a_paused_replica_processes_its_backlog_and_stale_timers_when_it_resumes() -> None:
    cores = FakeCores()
    pause = FaultSpec(at_s=0.005, action="pause", replicas=(2,), duration_s=0.5)
    records = run(scenario(faults=[pause, until(1.0)]), cores=cores).records
    assert rec.Paused(t=0.005, node="r2", duration_s=0.5) in records
    resumed = records.index(rec.Resumed(t=0.505, node="r2"))
    during = [r for r in records[:resumed] if getattr(r, "t", 0) > 0.005]
    assert not any(
        getattr(r, "node", None) == "r2" for r in during if isinstance(r, rec.TimerFired)
    )
    assert not any(r.dst == "r2" for r in during if isinstance(r, rec.Delivered))
    backlog = [r for r in records[resumed:] if getattr(r, "t", None) == 0.505]
    assert any(isinstance(r, rec.Delivered) and r.dst == "r2" for r in backlog)
    assert any(isinstance(r, rec.TimerFired) and r.node == "r2" for r in backlog)
    replica = cores.current(2)
    assert replica.ticks[0] == pytest.approx(0.505)  # the stale tick ran late, once
    assert replica.ticks[1] == pytest.approx(0.605)


def test_a_replica_that_crashes_while_paused_drops_its_backlog_and_never_resumes() -> None:
    cores = FakeCores()
    faults = [
        FaultSpec(at_s=0.005, action="pause", replicas=(2,), duration_s=0.5),
        FaultSpec(at_s=0.3, action="crash", replicas=(2,)),
        until(1.0),
    ]
    records = run(scenario(faults=faults), cores=cores).records
    node_records = [r for r in records if getattr(r, "node", None) == "r2"]
    assert [type(r).__name__ for r in node_records] == ["Paused", "Crashed"]
    backlog = [r for r in of_type(records, rec.Dropped) if r.dst == "r2" and r.t == 0.3]
    assert backlog  # what had queued during the pause is dropped with the crash
    assert all(r.reason == "crashed" for r in backlog)
    assert not any(r.dst == "r2" for r in of_type(records, rec.Delivered) if r.t > 0.005)
    assert cores.current(2).ticks == []  # the tick due during the pause never ran


def test_a_restart_while_paused_ends_the_pause_and_the_old_resume_is_ignored() -> None:
    cores = FakeCores()
    faults = [
        FaultSpec(at_s=0.005, action="pause", replicas=(2,), duration_s=0.5),
        FaultSpec(at_s=0.2, action="restart", replicas=(2,)),
        until(1.0),
    ]
    records = run(scenario(faults=faults), cores=cores).records
    node_records = [type(r).__name__ for r in records if getattr(r, "node", None) == "r2"]
    assert node_records[:3] == ["Paused", "Crashed", "Restarted"]
    assert "Resumed" not in node_records
    assert cores.current(2).ticks[0] == pytest.approx(0.3)  # the new core ticks on time


def test_a_slow_clock_fires_its_timers_late_in_real_time() -> None:
    cores = FakeCores()
    skew = FaultSpec(at_s=0.0, action="clock_skew", replicas=(1,), drift=-0.5)
    records = run(
        scenario(faults=[skew, until(1.0)], requests=0, within_s=1.0), cores=cores
    ).records
    ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r1"]
    assert ticks[:3] == pytest.approx([0.2, 0.4, 0.6])
    assert cores.current(1).ticks[:3] == pytest.approx([0.1, 0.2, 0.3])


def test_a_clock_stepped_back_during_a_pause_postpones_the_timer_that_was_due() -> None:
    cores = FakeCores()
    faults = [
        FaultSpec(at_s=0.05, action="pause", replicas=(0,), duration_s=0.5),
        FaultSpec(at_s=0.3, action="clock_skew", replicas=(0,), offset_s=-1.0),
        until(1.5),
    ]
    records = run(scenario(faults=faults, requests=0, within_s=1.5), cores=cores).records
    ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r0"]
    # The tick for local 0.1 was due at 0.1, during the pause; by the resume the clock reads
    # 0.55 - 1.0, so it is not due any more: it fires when the clock reaches 0.1, at 1.1.
    assert ticks[0] == pytest.approx(1.1)
    assert cores.current(0).ticks[0] == pytest.approx(0.1)


def test_a_clock_stepped_forwards_during_a_pause_fires_the_timer_at_the_resume() -> None:
    cores = FakeCores()
    faults = [
        FaultSpec(at_s=0.01, action="pause", replicas=(0,), duration_s=0.5),
        FaultSpec(at_s=0.05, action="clock_skew", replicas=(0,), offset_s=5.0),
        until(1.0),
    ]
    records = run(scenario(faults=faults, requests=0, within_s=1.0), cores=cores).records
    ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r0"]
    assert ticks[:2] == pytest.approx([0.51, 0.61])
    assert cores.current(0).ticks[0] == pytest.approx(5.51)


def test_timers_run_on_the_nodes_own_clock_with_drift() -> None:
    cores = FakeCores()
    skew = FaultSpec(at_s=0.0, action="clock_skew", replicas=(1,), drift=1.0)
    records = run(
        scenario(faults=[skew, until(1.0)], requests=0, within_s=1.0), cores=cores
    ).records
    assert rec.ClockChanged(t=0.0, node="r1", offset_s=0.0, drift=1.0) in records
    real_ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r1"]
    normal_ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r0"]
    assert real_ticks[:3] == pytest.approx([0.05, 0.1, 0.15])  # twice as fast in real time
    assert normal_ticks[:3] == pytest.approx([0.1, 0.2, 0.3])
    assert cores.current(1).ticks[:3] == pytest.approx([0.1, 0.2, 0.3])  # its own readings


def test_a_clock_stepped_forwards_fires_its_overdue_timers_at_once() -> None:
    cores = FakeCores()
    skew = FaultSpec(at_s=0.25, action="clock_skew", replicas=(0,), offset_s=10.0)
    records = run(
        scenario(faults=[skew, until(0.5)], requests=0, within_s=0.5), cores=cores
    ).records
    ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r0"]
    assert ticks[:3] == pytest.approx([0.1, 0.2, 0.25])
    assert cores.current(0).ticks[2] == pytest.approx(10.25)
    assert ticks[3] == pytest.approx(0.35)


def test_a_clock_stepped_back_delays_its_timers() -> None:
    skew = FaultSpec(at_s=0.15, action="clock_skew", replicas=(0,), offset_s=-1.0)
    records = run(scenario(faults=[skew, until(1.5)], requests=0, within_s=1.5)).records
    ticks = [r.t for r in of_type(records, rec.TimerFired) if r.node == "r0"]
    assert ticks[:2] == pytest.approx([0.1, 1.2])  # armed for local 0.2, read 0.2 at real 1.2


def test_a_slowdown_delays_messages_of_its_replicas_until_it_ends() -> None:
    slow = FaultSpec(at_s=0.0, action="slow", replicas=(0, 1, 2, 3), delay_s=0.2, duration_s=1.0)
    result = run(scenario(faults=[slow], requests=1))
    completed = of_type(result.records, rec.Completed)
    assert completed[0].t == pytest.approx(0.402)  # request and reply both slowed
    assert [r.action for r in of_type(result.records, rec.NetworkChanged)] == [
        "slow",
        "slow-ended",
    ]
    assert result.last_fault_s == 1.0
    assert result.end_time_s >= 1.0  # not quiescent before the last fault is over


def test_a_slowdown_is_forgotten_once_it_has_ended() -> None:
    slow = FaultSpec(at_s=0.0, action="slow", replicas=(1,), delay_s=0.2, duration_s=0.5)
    simulation = Simulation(scenario(faults=[slow, until(1.0)]), seed=1, cores=FakeCores())
    simulation.run()
    assert simulation.network.slowdowns == []


def test_gst_is_traced_and_counts_as_the_last_fault() -> None:
    s = scenario(network=NetworkSpec(after=FAST_LINK, before_gst=NOISY, gst_s=0.7))
    result = run(s)
    assert result.last_fault_s == 0.7
    assert rec.NetworkChanged(t=0.7, action="gst", detail="network is stable from now on") in (
        result.records
    )


def test_a_silent_byzantine_replica_is_listed_as_faulty_and_sends_nothing() -> None:
    s = scenario(byzantine=(ByzantineSpec(replica=3, behavior="silent"),))
    result = run(s)
    started = result.records[0]
    assert isinstance(started, rec.RunStarted)
    assert started.faulty == ("r3",)
    assert result.faulty_replicas == (3,)
    assert result.correct_replicas == (0, 1, 2)
    assert not any(r.src == "r3" for r in of_type(result.records, rec.Sent))
    assert len(of_type(result.records, rec.Completed)) == 3


def test_wire_mode_passes_every_delivery_through_the_codec_without_changing_the_run() -> None:
    s = scenario(link=NOISY, requests=5)
    plain = simulate(s, cores=FakeCores())
    wired = simulate(s, cores=FakeCores(), wire=True)
    assert plain.records == wired.records


def test_progress_is_reported_in_increasing_virtual_time_up_to_the_end() -> None:
    seen: list[float] = []
    result = simulate(
        scenario(requests=0, faults=[until(1.0)], within_s=1.0),
        cores=FakeCores(),
        on_progress=seen.append,
    )
    assert seen == sorted(seen)
    assert seen[-1] == result.end_time_s == 1.0
    assert 5 <= len(seen) <= 102  # throttled: about 100 reports at most


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (FaultSpec(at_s=0.0, action="explode"), r"faults\[0\]\.action: unknown action 'explode'"),
        (FaultSpec(at_s=0.0, action="crash", replicas=(4,)), r"faults\[0\]\.replicas: replica 4"),
        (FaultSpec(at_s=-1.0, action="heal"), r"faults\[0\]: at, duration and delay"),
        (FaultSpec(at_s=0.0, action="clock_skew", drift=-2.0), r"faults\[0\]\.drift"),
        (FaultSpec(at_s=0.0, action="partition"), r"faults\[0\]\.groups"),
    ],
)
def test_a_fault_that_cannot_happen_is_refused_before_the_run(
    fault: FaultSpec, message: str
) -> None:
    with pytest.raises(SimulationError, match=message):
        run(scenario(faults=[fault]))


NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"faults": [FaultSpec(at_s=NAN, action="heal")]}, r"faults\[0\]\.at: must be a finite"),
        ({"faults": [FaultSpec(at_s=INF, action="heal")]}, r"faults\[0\]\.at: must be a finite"),
        (
            {"faults": [FaultSpec(at_s=0.0, action="pause", replicas=(0,), duration_s=NAN)]},
            r"faults\[0\]\.duration: must be a finite",
        ),
        (
            {"faults": [FaultSpec(at_s=0.0, action="slow", replicas=(0,), delay_s=INF)]},
            r"faults\[0\]\.delay: must be a finite",
        ),
        (
            {"faults": [FaultSpec(at_s=0.0, action="clock_skew", replicas=(0,), offset_s=NAN)]},
            r"faults\[0\]\.offset: must be a finite",
        ),
        (
            {"faults": [FaultSpec(at_s=0.0, action="clock_skew", replicas=(0,), drift=INF)]},
            r"faults\[0\]\.drift: must be a finite",
        ),
        (
            {"link": LinkModel(delay=Delay(dist="fixed", value_s=NAN))},
            r"network\.after\.delay\.value: must be a finite",
        ),
        (
            {"link": LinkModel(delay=Delay(dist="exponential", mean_s=-0.5))},
            r"network\.after\.delay\.mean: must be >= 0",
        ),
        (
            {"link": LinkModel(delay=Delay(dist="uniform", low_s=0.02, high_s=0.01))},
            r"network\.after\.delay\.high: must be at least low",
        ),
        (
            {"link": LinkModel(delay=Delay(dist="lognormal", sigma=-1.0))},
            r"network\.after\.delay\.sigma: must be >= 0",
        ),
        ({"link": LinkModel(loss=NAN)}, r"network\.after\.loss: must be a probability"),
        ({"link": LinkModel(duplicate=1.5)}, r"network\.after\.duplicate: must be a probability"),
        ({"link": LinkModel(reorder=-1.0)}, r"network\.after\.reorder: must be >= 0"),
        (
            {"network": NetworkSpec(after=FAST_LINK, before_gst=LinkModel(loss=2.0), gst_s=1.0)},
            r"network\.before_gst\.loss: must be a probability",
        ),
        (
            {"network": NetworkSpec(after=FAST_LINK, gst_s=NAN)},
            r"network\.gst: must be a finite",
        ),
        (
            {"network": NetworkSpec(after=FAST_LINK, bound_s=INF)},
            r"network\.bound: must be a finite",
        ),
        ({"within_s": INF}, r"expect\.within: must be a finite"),
        (
            {"workload": WorkloadSpec(think_s=NAN)},
            r"workload\.think: must be a finite",
        ),
        (
            {"workload": WorkloadSpec(start_s=-1.0)},
            r"workload\.start: must be >= 0",
        ),
    ],
)
def test_a_scenario_built_in_code_with_impossible_numbers_is_refused_by_field(
    fields: dict[str, object], message: str
) -> None:
    """The loader refuses these in TOML; in code they would put NaN into the agenda's order."""
    with pytest.raises(SimulationError, match=message):
        run(scenario(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ((("R1",), ("r0",)), r"faults\[0\]\.groups\[0\]\[0\]: unknown node 'R1'"),
        ((("r9",), ("r0",)), r"faults\[0\]\.groups\[0\]\[0\]: unknown node 'r9'"),
        ((("r1",), ("c0", "r1")), r"faults\[0\]\.groups\[1\]\[1\]: r1 is already in a group"),
        ((("r1",), ()), r"faults\[0\]\.groups\[1\]: a group needs at least one node"),
    ],
)
def test_a_partition_built_in_code_must_name_each_known_node_once(
    groups: tuple[tuple[str, ...], ...], message: str
) -> None:
    """A misspelt node is in no group, so it would stay connected: a partition that is not."""
    fault = FaultSpec(at_s=0.0, action="partition", groups=groups)
    with pytest.raises(SimulationError, match=message):
        run(scenario(faults=[fault]))


def test_a_byzantine_replica_outside_the_cluster_is_refused() -> None:
    s = scenario(byzantine=(ByzantineSpec(replica=9, behavior="silent"),))
    with pytest.raises(SimulationError, match=r"byzantine\[0\]\.replica: replica 9"):
        run(s)


def test_a_workload_without_positive_weights_is_refused() -> None:
    s = attrs.evolve(scenario(), workload=WorkloadSpec(mix=(("put", 0.0),)))
    with pytest.raises(SimulationError, match=r"workload\.mix"):
        run(s)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64),
    loss=st.floats(min_value=0.0, max_value=0.3),
    duplicate=st.floats(min_value=0.0, max_value=0.3),
    reorder=st.floats(min_value=0.0, max_value=2.0),
    pause_at_s=st.floats(min_value=0.0, max_value=0.5),
)
def test_any_network_and_seed_replays_to_the_same_trace(
    seed: int, loss: float, duplicate: float, reorder: float, pause_at_s: float
) -> None:
    link = LinkModel(
        delay=Delay(dist="exponential", mean_s=0.01),
        loss=loss,
        duplicate=duplicate,
        reorder=reorder,
    )
    faults = [FaultSpec(at_s=pause_at_s, action="pause", replicas=(0,), duration_s=0.2)]
    s = scenario(link=link, clients=2, requests=3, faults=faults)
    first, second = run(s, seed=seed), run(s, seed=seed)
    assert trace_sha256(first.records) == trace_sha256(second.records)
    times = [record.t for record in first.records if hasattr(record, "t")]
    assert times == sorted(times)  # the trace is in virtual-time order


NODES = ("r0", "r1", "r2", "r3", "c0", "c1")


@st.composite
def fault_specs(draw: st.DrawFn) -> FaultSpec:
    at_s = draw(st.floats(min_value=0.0, max_value=0.5))
    action = draw(st.sampled_from(("crash", "restart", "pause", "partition", "heal", "slow")))
    if action == "partition":
        nodes = draw(st.permutations(NODES))
        cut = draw(st.integers(min_value=1, max_value=len(NODES) - 1))
        groups = (tuple(nodes[:cut]), tuple(nodes[cut:]))
        return FaultSpec(at_s=at_s, action=action, groups=groups, oneway=draw(st.booleans()))
    replicas = tuple(sorted(draw(st.sets(st.integers(0, 3), min_size=1, max_size=2))))
    return FaultSpec(
        at_s=at_s,
        action=action,
        replicas=replicas,
        duration_s=draw(st.floats(min_value=0.0, max_value=0.3)),
        delay_s=draw(st.floats(min_value=0.0, max_value=0.05)),
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), faults=st.lists(fault_specs(), max_size=6))
def test_every_copy_of_every_message_is_delivered_or_dropped_exactly_once(
    seed: int, faults: list[FaultSpec]
) -> None:
    """Across crashes, restarts, pauses, partitions and slowdowns, at any time they strike."""
    link = LinkModel(
        delay=Delay(dist="exponential", mean_s=0.01), loss=0.05, duplicate=0.1, reorder=0.5
    )
    ordered = sorted(faults, key=lambda fault: fault.at_s)
    s = scenario(link=link, clients=2, requests=3, faults=[*ordered, until(0.8)], within_s=3.0)
    records = run(s, seed=seed).records
    copies: dict[int, int] = {}
    fates: dict[int, int] = {}
    for record in records:
        if isinstance(record, rec.Sent | rec.Duplicated):
            copies[record.msg] = copies.get(record.msg, 0) + 1
        elif isinstance(record, rec.Delivered | rec.Dropped):
            assert record.msg in copies  # never a fate before the send
            fates[record.msg] = fates.get(record.msg, 0) + 1
    assert all(fates.get(msg, 0) <= count for msg, count in copies.items())
    ended = records[-1]
    assert isinstance(ended, rec.RunEnded)
    if ended.reason == "quiescent":
        assert fates == copies
