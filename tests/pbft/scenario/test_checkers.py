"""Each checker must pass an honest trace and fail a hand-built trace that breaks its rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.scenario import checkers
from pbft.trace import records as tr

from .traces import (
    GET_RESULT,
    OP_GET,
    OP_PUT,
    PUT_RESULT,
    executed,
    honest_trace,
    kv_results,
    request,
    with_results,
)


def replace(trace: list[tr.Record], old: tr.Record, new: tr.Record) -> list[tr.Record]:
    index = trace.index(old)
    return [*trace[:index], new, *trace[index + 1 :]]


def find_executed(trace: list[tr.Record], replica: int, seq: int) -> tr.Executed:
    for record in trace:
        if isinstance(record, tr.Executed) and (record.replica, record.seq) == (replica, seq):
            return record
    raise AssertionError(f"no execution of seq {seq} at r{replica}")


def test_an_honest_trace_passes_every_check() -> None:
    judgement = checkers.judge(honest_trace())
    assert [name for name, v in judgement.verdicts.items() if not v.ok] == []
    assert judgement.committed == 2
    assert judgement.liveness.completed == 2
    assert judgement.liveness.expected == 2


def test_agreement_fails_when_two_correct_replicas_execute_different_batches() -> None:
    trace = honest_trace()
    other = executed(3, 2, (request("c0", 9, OP_GET),), t=0.53, digest="ffff")
    trace = replace(trace, find_executed(trace, 3, 2), other)
    verdict = checkers.check_agreement(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert first.seq == 2
    assert first.replicas == (0, 3)
    assert first.t == pytest.approx(0.53)
    assert "seq 2" in first.message


def test_agreement_ignores_faulty_replicas() -> None:
    trace = honest_trace(faulty=("r3",))
    other = executed(3, 2, (request("c0", 9, OP_GET),), t=0.53, digest="ffff")
    trace = replace(trace, find_executed(trace, 3, 2), other)
    assert checkers.check_agreement(trace).ok


def test_agreement_counts_a_crashed_replica_that_executed_before_crashing() -> None:
    trace = honest_trace()
    other = executed(3, 2, (), t=0.53, digest="0000")
    trace = replace(trace, find_executed(trace, 3, 2), other)
    trace.insert(-1, tr.Crashed(t=0.65, node="r3"))
    assert not checkers.check_agreement(trace).ok


def test_agreement_fails_when_a_replica_executes_a_lower_seq_without_restarting() -> None:
    trace = honest_trace()
    trace.insert(-1, executed(1, 1, (request("c0", 1),), t=0.65))
    verdict = checkers.check_agreement(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert verdict.first.replicas == (1,)
    assert "without restarting" in verdict.first.message


def test_agreement_allows_reexecution_after_a_restart() -> None:
    trace = honest_trace()
    trace.insert(-1, tr.Restarted(t=0.65, node="r1"))
    trace.insert(-1, executed(1, 1, (request("c0", 1),), t=0.66))
    trace.insert(-1, executed(1, 2, (request("c0", 2, OP_GET),), t=0.67))
    assert checkers.check_agreement(trace).ok
    assert checkers.check_integrity(trace).ok


def test_agreement_fails_when_a_replica_skips_a_seq_without_fetching_a_checkpoint() -> None:
    # r2 jumps from seq 1 to seq 3: seq 2's batch never ran on its service, so its log is no
    # prefix of the others' although every batch it did run matches theirs.
    trace = honest_trace()
    trace = [r for r in trace if not (isinstance(r, tr.Executed) and (r.replica, r.seq) == (2, 2))]
    for replica in range(4):
        trace.insert(-1, executed(replica, 3, (), t=0.65 + replica / 100))
    verdict = checkers.check_agreement(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (3, (2,), 0.67)
    assert "seq 2 is missing" in first.message


def test_agreement_allows_a_gap_covered_by_a_fetched_checkpoint() -> None:
    # r3 fetched checkpoint 2 by state transfer and never executed seqs 1 and 2 itself.
    trace = [r for r in honest_trace() if not (isinstance(r, tr.Executed) and r.replica == 3)]
    stabilized(trace, {0: "aa", 1: "aa", 2: "aa", 3: "aa"})
    for replica in range(4):
        trace.insert(-1, executed(replica, 3, (), t=0.65 + replica / 100))
    assert checkers.check_agreement(trace).ok


def test_agreement_allows_any_next_seq_after_a_restart() -> None:
    # A recovered replica replays its stored log tail without records, so the next seq it
    # executes on record may be well above the last one it executed before the crash.
    trace = [r for r in honest_trace() if not (isinstance(r, tr.Executed) and r.replica == 3)]
    trace.insert(-1, tr.Restarted(t=0.6, node="r3"))
    for replica in range(4):
        trace.insert(-1, executed(replica, 3, (), t=0.65 + replica / 100))
    assert checkers.check_agreement(trace).ok


def test_agreement_fails_when_a_recovered_replica_skips_a_seq_it_had_run_before_the_crash() -> None:
    # r1 ran seqs 1 and 2, crashed and came back rolled back to seq 1: running seq 3 next
    # skips seq 2, which its restored state no longer holds.
    trace = honest_trace()
    trace.insert(-1, tr.Restarted(t=0.65, node="r1"))
    trace.insert(-1, executed(1, 1, (request("c0", 1),), t=0.66, results=(PUT_RESULT,)))
    for replica in range(4):
        trace.insert(-1, executed(replica, 3, (), t=0.67 + replica / 100))
    verdict = checkers.check_agreement(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (3, (1,), 0.68)
    assert "seq 2 is missing" in first.message


def stabilized(trace: list[tr.Record], digests: dict[int, str], *, seq: int = 2) -> None:
    """Insert each replica's CheckpointStabilized at ``seq`` before the run's end."""
    for replica, digest in sorted(digests.items()):
        trace.insert(
            -1, tr.CheckpointStabilized(t=0.61, replica=replica, seq=seq, state_digest=digest)
        )


def test_agreement_holds_when_correct_replicas_stabilize_the_same_state() -> None:
    trace = honest_trace()
    stabilized(trace, {0: "aa", 1: "aa", 2: "aa", 3: "aa"})
    assert checkers.check_agreement(trace).ok


def test_agreement_fails_when_correct_replicas_stabilize_different_states_at_one_checkpoint() -> (
    None
):
    # r3 fetched its state by state transfer, so it executed no seq below the checkpoint: only
    # the checkpoint's state digest shows that its implicit log differs from the others'.
    trace = [r for r in honest_trace() if not (isinstance(r, tr.Executed) and r.replica == 3)]
    stabilized(trace, {0: "aa", 1: "aa", 2: "aa", 3: "bb"})
    trace.insert(-1, executed(3, 3, (), t=0.62, digest="d003"))
    trace.insert(-1, executed(0, 3, (), t=0.62, digest="d003"))
    verdict = checkers.check_agreement(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (2, (0, 3), 0.61)
    assert "state" in first.message


def test_agreement_ignores_the_checkpoint_state_of_a_faulty_replica() -> None:
    trace = honest_trace(faulty=("r3",))
    stabilized(trace, {0: "aa", 1: "aa", 2: "aa", 3: "bb"})
    assert checkers.check_agreement(trace).ok


def test_validity_fails_on_an_unsigned_request() -> None:
    trace = honest_trace()
    forged = executed(2, 2, (request("c0", 2, OP_GET, signed=False),), t=0.52)
    trace = replace(trace, find_executed(trace, 2, 2), forged)
    verdict = checkers.check_validity(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert (verdict.first.seq, verdict.first.replicas) == (2, (2,))
    assert "signature" in verdict.first.message


def test_validity_fails_on_a_request_the_client_never_submitted() -> None:
    trace = honest_trace()
    invented = executed(0, 2, (request("c0", 2, OP_GET), request("c7", 1)), t=0.5)
    trace = replace(trace, find_executed(trace, 0, 2), invented)
    verdict = checkers.check_validity(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert verdict.first.client == "c7"
    assert "never submitted" in verdict.first.message


def test_validity_fails_on_a_changed_operation() -> None:
    trace = honest_trace()
    changed = executed(1, 1, (request("c0", 1, "beef"),), t=0.21)
    trace = replace(trace, find_executed(trace, 1, 1), changed)
    verdict = checkers.check_validity(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert "submitted" in verdict.first.message


def test_integrity_fails_when_a_replica_executes_a_request_at_two_seqs() -> None:
    trace = honest_trace()
    again = executed(2, 2, (request("c0", 2, OP_GET), request("c0", 1)), t=0.52)
    trace = replace(trace, find_executed(trace, 2, 2), again)
    verdict = checkers.check_integrity(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert verdict.first.seq == 2
    assert verdict.first.replicas == (2,)
    assert (verdict.first.client, verdict.first.timestamp) == ("c0", 1)


def test_integrity_fails_on_a_request_twice_in_one_batch() -> None:
    trace = honest_trace()
    twice = executed(0, 1, (request("c0", 1), request("c0", 1)), t=0.2, results=("aa", "bb"))
    trace = replace(trace, find_executed(trace, 0, 1), twice)
    verdict = checkers.check_integrity(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert "twice in that batch" in verdict.first.message


def test_integrity_fails_when_different_replicas_execute_one_request_at_two_seqs() -> None:
    # r0 and r1 execute c0's put at seq 1 and crash; r2 and r3 skipped seq 1 by state transfer
    # and execute the same put again at seq 2. No replica ran it twice, but the replicated
    # service did: the agreed log holds it at seq 1 and at seq 2.
    put = (request("c0", 1),)
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=()),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
        executed(0, 1, put, t=0.2),
        executed(1, 1, put, t=0.21),
        tr.Crashed(t=0.3, node="r0"),
        tr.Crashed(t=0.3, node="r1"),
        executed(2, 2, put, t=0.4),
        executed(3, 2, put, t=0.41),
    ]
    verdict = checkers.check_integrity(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (2, (0, 2), 0.4)
    assert (first.client, first.timestamp) == ("c0", 1)
    assert "seq 1" in first.message


def test_integrity_fails_when_a_replica_executes_one_seq_twice_without_restarting() -> None:
    trace = honest_trace()
    trace.insert(-1, executed(1, 2, (request("c0", 2, OP_GET),), t=0.65))
    verdict = checkers.check_integrity(trace)
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (2, (1,), 0.65)
    assert "without restarting" in first.message


def test_client_consistency_fails_when_a_client_accepts_a_result_no_correct_replica_computed() -> (
    None
):
    trace = honest_trace()
    old = next(r for r in trace if isinstance(r, tr.Completed) and r.timestamp == 2)
    lie = tr.Completed(t=0.6, client="c0", timestamp=2, operation=OP_GET, result="0bad")
    verdict = checkers.check_client_consistency(replace(trace, old, lie))
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.t, first.client) == (2, 0.6, "c0")
    assert first.replicas == (0, 1, 2, 3)


def test_client_consistency_fails_when_correct_replicas_compute_different_results() -> None:
    trace = honest_trace()
    diverged = executed(1, 1, (request("c0", 1),), t=0.21, results=("0bad",))
    verdict = checkers.check_client_consistency(
        replace(trace, find_executed(trace, 1, 1), diverged)
    )
    assert not verdict.ok
    assert verdict.first is not None
    assert "disagree" in verdict.first.message


def test_client_consistency_fails_when_the_log_reverses_real_time_order() -> None:
    # c0's request completes at 0.3; c1 submits at 0.35, yet the log puts c1's request first.
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=()),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
        executed(0, 2, (request("c0", 1),), t=0.2),
        tr.Completed(t=0.3, client="c0", timestamp=1, operation=OP_PUT, result="e001"),
        tr.Submitted(t=0.35, client="c1", timestamp=1, operation=OP_PUT),
        executed(0, 1, (request("c1", 1),), t=0.4),
    ]
    verdict = checkers.check_client_consistency(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert verdict.first.client == "c1"
    assert verdict.first.seq == 1
    assert "before seq 2" in verdict.first.message


def test_client_consistency_replays_an_honest_log_without_complaint() -> None:
    verdict = checkers.check_client_consistency(honest_trace(), app="kv")
    assert verdict.ok, verdict.violations
    assert "replayed seq 1-2" in verdict.summary


def test_client_consistency_fails_when_replicas_and_client_agree_on_a_result_replay_refutes() -> (
    None
):
    # Every correct replica answers the get as if the put had never run (as after installing a
    # stale state), and the client accepts that answer: only replaying the agreed log on a
    # fresh service shows that the get must return the value just put.
    (stale,) = kv_results(OP_GET)
    assert stale != GET_RESULT
    trace = with_results(honest_trace(), 2, stale)
    verdict = checkers.check_client_consistency(trace, app="kv")
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.client, first.timestamp, first.t) == (2, "c0", 2, 0.6)
    assert "replaying" in first.message
    assert GET_RESULT[:12] in first.message


def test_client_consistency_replays_only_up_to_a_seq_no_correct_replica_executed() -> None:
    # Only the faulty r3 executed seq 1 (the others state-transferred past it), so the put is
    # not in the correct replicas' log and the get's result cannot be recomputed: no verdict.
    trace = [
        r
        for r in honest_trace(faulty=("r3",))
        if not (isinstance(r, tr.Executed) and r.seq == 1 and r.replica != 3)
        and not (isinstance(r, tr.Completed) and r.timestamp == 1)
    ]
    verdict = checkers.check_client_consistency(trace, app="kv")
    assert verdict.ok, verdict.violations
    assert "seq 1" in verdict.summary


def test_client_consistency_rejects_an_unknown_service() -> None:
    with pytest.raises(checkers.JudgeError, match="nosuch"):
        checkers.check_client_consistency(honest_trace(), app="nosuch")


def test_client_consistency_replays_through_a_null_batch() -> None:
    put, get = (request("c0", 1),), (request("c0", 2, OP_GET),)
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=()),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
        *[executed(r, 1, put, t=0.2, results=kv_results(OP_PUT)) for r in range(4)],
        *[executed(r, 2, (), t=0.25) for r in range(4)],
        tr.Submitted(t=0.3, client="c0", timestamp=2, operation=OP_GET),
        *[executed(r, 3, get, t=0.4, results=(GET_RESULT,)) for r in range(4)],
        tr.Completed(t=0.5, client="c0", timestamp=2, operation=OP_GET, result=GET_RESULT),
    ]
    verdict = checkers.check_client_consistency(trace, app="kv")
    assert verdict.ok, verdict.violations
    assert "replayed seq 1-3" in verdict.summary


def test_client_consistency_fails_when_a_client_accepts_a_request_only_a_faulty_replica_ran() -> (
    None
):
    trace = [
        r
        for r in honest_trace(faulty=("r3",))
        if not (isinstance(r, tr.Executed) and r.seq == 2 and r.replica != 3)
    ]
    verdict = checkers.check_client_consistency(trace, app="kv")
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.client, first.timestamp, first.t) == ("c0", 2, 0.6)
    assert "no correct replica executed" in first.message


def test_client_consistency_fails_when_a_later_client_request_precedes_an_earlier_completion() -> (
    None
):
    # c0's request completes at seq 3 while c1's, already submitted, sits at seq 1; c2 then
    # submits and lands at seq 2, before c0's completed request: only c2's order is wrong.
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=()),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
        tr.Submitted(t=0.1, client="c1", timestamp=1, operation=OP_PUT),
        executed(0, 1, (request("c1", 1),), t=0.15),
        executed(0, 3, (request("c0", 1),), t=0.2),
        tr.Completed(t=0.3, client="c0", timestamp=1, operation=OP_PUT, result="e001"),
        tr.Completed(t=0.31, client="c1", timestamp=1, operation=OP_PUT, result="e001"),
        tr.Submitted(t=0.35, client="c2", timestamp=1, operation=OP_PUT),
        executed(0, 2, (request("c2", 1),), t=0.4),
    ]
    verdict = checkers.check_client_consistency(trace)
    assert verdict.violation_count == 1
    assert verdict.first is not None
    assert (verdict.first.client, verdict.first.seq) == ("c2", 2)


def test_client_consistency_ignores_what_a_faulty_client_claims_to_have_accepted() -> None:
    # A Byzantine client may record any result and any completion time; PBFT promises
    # consistent results and real-time order to correct clients only (§4.1).
    trace = honest_trace(faulty=("c0",))
    old = next(r for r in trace if isinstance(r, tr.Completed) and r.timestamp == 2)
    lie = tr.Completed(t=0.6, client="c0", timestamp=2, operation=OP_GET, result="0bad")
    trace = replace(trace, old, lie)
    trace.insert(3, tr.Completed(t=0.1, client="c0", timestamp=2, operation=OP_GET, result=""))
    assert checkers.check_client_consistency(trace, app="kv").ok
    assert not checkers.check_client_consistency(honest_trace()[:3] + trace[3:], app="kv").ok


def test_client_consistency_fails_when_a_replica_records_fewer_results_than_requests() -> None:
    trace = honest_trace()
    short = executed(1, 2, (request("c0", 2, OP_GET),), t=0.51, results=())
    verdict = checkers.check_client_consistency(replace(trace, find_executed(trace, 1, 2), short))
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert (first.seq, first.replicas, first.t) == (2, (1,), 0.51)
    assert "1 requests but recorded 0 results" in first.message


def test_liveness_fails_when_a_request_never_completes() -> None:
    trace = [r for r in honest_trace() if not (isinstance(r, tr.Completed) and r.timestamp == 2)]
    verdict = checkers.check_liveness(trace)
    assert not verdict.ok
    assert (verdict.completed, verdict.expected) == (1, 2)
    assert verdict.first is not None
    assert (verdict.first.client, verdict.first.timestamp, verdict.first.t) == ("c0", 2, 0.4)


def test_liveness_counts_requests_the_client_never_got_to_submit() -> None:
    verdict = checkers.check_liveness(honest_trace(), expected={"c0": 5, "c1": 1})
    assert not verdict.ok
    assert (verdict.completed, verdict.expected) == (2, 6)
    assert {v.client for v in verdict.violations} == {"c0", "c1"}


def test_liveness_fails_when_completion_comes_after_the_deadline() -> None:
    verdict = checkers.check_liveness(honest_trace(), deadline_s=0.45)
    assert not verdict.ok
    assert verdict.completed == 1


def test_liveness_does_not_expect_the_requests_of_a_faulty_client() -> None:
    verdict = checkers.check_liveness(honest_trace(faulty=("c1",)), expected={"c0": 2, "c1": 3})
    assert verdict.ok, verdict.violations
    assert (verdict.completed, verdict.expected) == (2, 2)


def test_bounded_log_fails_when_a_correct_replica_exceeds_its_window() -> None:
    trace = honest_trace()
    trace.insert(-1, tr.LogSize(t=0.65, replica=2, slots=33, window=32))
    verdict = checkers.check_bounded_log(trace)
    assert not verdict.ok
    assert verdict.first is not None
    assert (verdict.first.replicas, verdict.first.t) == ((2,), 0.65)


def test_bounded_log_ignores_faulty_replicas() -> None:
    trace = honest_trace(faulty=("r2",))
    trace.insert(-1, tr.LogSize(t=0.65, replica=2, slots=330, window=32))
    assert checkers.check_bounded_log(trace).ok


def test_a_trace_without_run_started_cannot_be_judged() -> None:
    with pytest.raises(checkers.JudgeError, match="RunStarted"):
        checkers.judge(honest_trace()[1:])


def test_violations_are_capped_but_counted() -> None:
    trace = honest_trace()
    for i in range(checkers.MAX_VIOLATIONS + 5):
        trace.insert(-1, tr.LogSize(t=0.65 + i, replica=1, slots=40 + i, window=32))
    verdict = checkers.check_bounded_log(trace)
    assert len(verdict.violations) == checkers.MAX_VIOLATIONS
    assert verdict.violation_count == checkers.MAX_VIOLATIONS + 5
    assert verdict.first is not None and verdict.first.t == 0.65


def test_highest_view_ignores_faulty_replicas() -> None:
    trace = honest_trace(faulty=("r3",))
    trace.insert(-1, tr.ViewEntered(t=0.6, replica=3, view=9))
    trace.insert(-1, tr.ViewEntered(t=0.6, replica=1, view=2))
    assert checkers.judge(trace).views == 2


small_ints = st.integers(min_value=0, max_value=5)
times = st.floats(min_value=0, max_value=10, allow_nan=False)
clients = st.sampled_from(["c0", "c1"])
hexes = st.sampled_from(["", "aa", "bb"])
operations = st.sampled_from(["", "aa", "zz", OP_PUT, OP_GET])  # "zz" is not even hex
executed_requests = st.builds(
    tr.ExecutedRequest,
    client=clients,
    timestamp=small_ints,
    operation=operations,
    signed=st.booleans(),
)
any_record = st.one_of(
    st.builds(
        tr.Executed,
        t=times,
        replica=small_ints,
        view=small_ints,
        seq=small_ints,
        digest=hexes,
        requests=st.lists(executed_requests, max_size=3).map(tuple),
        results=st.lists(hexes, max_size=3).map(tuple),
    ),
    st.builds(tr.Submitted, t=times, client=clients, timestamp=small_ints, operation=operations),
    st.builds(
        tr.Completed, t=times, client=clients, timestamp=small_ints, operation=hexes, result=hexes
    ),
    st.builds(tr.LogSize, t=times, replica=small_ints, slots=small_ints, window=small_ints),
    st.builds(tr.ViewEntered, t=times, replica=small_ints, view=small_ints),
    st.builds(tr.Restarted, t=times, node=st.sampled_from(["r0", "r1", "c0", "x"])),
    st.builds(tr.Crashed, t=times, node=st.sampled_from(["r0", "r1", "c0", "x"])),
    st.builds(
        tr.CheckpointStabilized, t=times, replica=small_ints, seq=small_ints, state_digest=hexes
    ),
)


@given(
    st.lists(any_record, max_size=30),
    st.lists(st.sampled_from(["r0", "r3", "c1"]), max_size=2),
    st.sampled_from([None, "kv", "counter", "lock"]),
)
def test_no_trace_makes_a_checker_raise(
    records: list[tr.Record], faulty: list[str], app: str | None
) -> None:
    start = tr.RunStarted(t=0.0, scenario="fuzz", seed=1, n=4, f=1, faulty=tuple(faulty))
    judgement = checkers.judge([start, *records], app=app)
    assert set(judgement.verdicts) == set(checkers.ALL_CHECKS)
    for verdict in judgement.verdicts.values():
        assert verdict.ok == (verdict.violation_count == 0) or verdict.check == "liveness"
