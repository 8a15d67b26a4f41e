"""Judge a run from its trace alone: agreement, validity, integrity, client consistency,
liveness and a bounded log. (Client consistency also replays the agreed log on a fresh
service, given the service's name, since the trace does not record it.)

Each checker reads the records of :mod:`pbft.trace.records` and returns a :class:`Verdict`
whose violations carry the first counterexample (sequence number, replicas, virtual time), so
a saved trace can be re-judged later and a real run could be judged by the same code.

*Correct* replicas are those not listed in ``RunStarted.faulty``. A replica that crashes is
still correct: what it executed before the crash counts for agreement, validity and
integrity (OSDI '99 §2 counts only Byzantine replicas as faulty). docs/checkers.md says what
each checker judges, from which records, and which run proves it can fail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from pbft.trace import records as tr

MAX_VIOLATIONS: Final = 50  # per check; the total is still counted

SAFETY_CHECKS: Final = ("agreement", "validity", "integrity", "client_consistency", "bounded_log")
ALL_CHECKS: Final = (*SAFETY_CHECKS, "liveness")

RequestKey = tuple[str, int]  # (client, timestamp): what PBFT executes at most once (§4.1)


class JudgeError(ValueError):
    """The records cannot be judged at all (for example, there is no RunStarted record)."""


@attrs.frozen(kw_only=True)
class Violation:
    """One counterexample: what went wrong, where in the log, at which replicas, and when."""

    check: str
    message: str
    t: float | None = None
    seq: int | None = None
    replicas: tuple[int, ...] = ()
    client: str | None = None
    timestamp: int | None = None


@attrs.frozen(kw_only=True)
class Verdict:
    """The outcome of one check: ``ok`` and the violations found, earliest first."""

    check: str
    ok: bool
    violations: tuple[Violation, ...] = ()
    violation_count: int = 0  # may exceed len(violations), which is capped at MAX_VIOLATIONS
    summary: str = ""

    @property
    def first(self) -> Violation | None:
        return self.violations[0] if self.violations else None


@attrs.frozen(kw_only=True)
class LivenessVerdict(Verdict):
    """A liveness verdict also says how many requests completed out of how many expected."""

    completed: int = 0
    expected: int = 0
    deadline_s: float = 0.0


@attrs.frozen(kw_only=True)
class Judgement:
    """Every verdict on one trace plus the figures a report shows."""

    verdicts: Mapping[str, Verdict]
    committed: int  # distinct requests in the correct replicas' executed logs
    views: int  # highest view a correct replica entered
    end_time_s: float
    faulty: tuple[str, ...]

    @property
    def safety_ok(self) -> bool:
        return all(self.verdicts[name].ok for name in SAFETY_CHECKS)

    @property
    def liveness(self) -> LivenessVerdict:
        verdict = self.verdicts["liveness"]
        assert isinstance(verdict, LivenessVerdict)
        return verdict


@attrs.frozen(kw_only=True)
class _Facts:
    """What the checkers need from a trace, gathered in one pass."""

    faulty: frozenset[str]
    executions: tuple[tr.Executed, ...]  # by correct replicas, in trace order
    end_time_s: float


def _facts(records: Sequence[tr.Record]) -> _Facts:
    started = [record for record in records if isinstance(record, tr.RunStarted)]
    if not started:
        raise JudgeError("the trace has no RunStarted record, so correct replicas are unknown")
    if len(started) > 1:
        raise JudgeError(f"the trace has {len(started)} RunStarted records; judge one run")
    faulty = frozenset(started[0].faulty)
    executions = tuple(
        record
        for record in records
        if isinstance(record, tr.Executed) and _principal(record.replica) not in faulty
    )
    end = max((record.t for record in records), default=0.0)
    return _Facts(faulty=faulty, executions=executions, end_time_s=end)


def _verdict(check: str, violations: Sequence[Violation], summary: str) -> Verdict:
    ordered = sorted(violations, key=_when)
    return Verdict(
        check=check,
        ok=not ordered,
        violations=tuple(ordered[:MAX_VIOLATIONS]),
        violation_count=len(ordered),
        summary=summary,
    )


def _when(violation: Violation) -> tuple[float, int]:
    return (violation.t if violation.t is not None else float("inf"), violation.seq or 0)


def _batch(record: tr.Executed) -> tuple[tuple[str, int, str], ...]:
    return tuple((r.client, r.timestamp, r.operation) for r in record.requests)


def _short(hex_text: str) -> str:
    return hex_text[:12] if hex_text else "(empty)"


def check_agreement(records: Sequence[tr.Record]) -> Verdict:
    """No two correct replicas execute different batches at one sequence number (§4.5.1).

    Together with "each replica executes sequence numbers in increasing order" (restarts
    excepted: a recovered replica re-executes from its last checkpoint), this makes the
    correct replicas' executed logs prefixes of one another. A replica that fetched a
    checkpoint by state transfer never executes the sequence numbers below it, so its log has
    a gap there; what stands for that part of its log is the checkpoint's state, and correct
    replicas must stabilize equal states at each checkpoint (§4.3), or the gap would hide a
    divergence. Any other gap (a seq neither executed nor covered by a fetched checkpoint) is
    a hole in the replica's log, so its log is no prefix of the others'.
    """
    facts = _facts(records)
    first_at: dict[int, tr.Executed] = {}
    first_state: dict[int, tr.CheckpointStabilized] = {}
    last_seq: dict[int, int] = {}
    # The seq each replica's state reaches: executed or fetched (a stable checkpoint). After a
    # restart it is unknown until the replica executes on record again: recovery replays the
    # stored log tail without Executed records.
    reached: dict[int, int] = defaultdict(int)
    restarted: set[int] = set()
    violations: list[Violation] = []
    reported: set[tuple[int, int]] = set()
    for record in records:
        if isinstance(record, tr.Restarted):
            last_seq.pop(_replica_id(record.node), None)
            restarted.add(_replica_id(record.node))
            continue
        if isinstance(record, tr.CheckpointStabilized):
            if _principal(record.replica) not in facts.faulty:
                violations.extend(_state_divergence(first_state, record))
                reached[record.replica] = max(reached[record.replica], record.seq)
            continue
        if not isinstance(record, tr.Executed):
            continue
        if _principal(record.replica) in facts.faulty:
            continue
        earlier = first_at.setdefault(record.seq, record)
        if (earlier.digest, _batch(earlier)) != (record.digest, _batch(record)) and (
            record.seq,
            record.replica,
        ) not in reported:
            reported.add((record.seq, record.replica))
            violations.append(
                Violation(
                    check="agreement",
                    message=(
                        f"seq {record.seq}: r{earlier.replica} executed batch "
                        f"{_short(earlier.digest)} ({len(earlier.requests)} requests) at "
                        f"t={earlier.t:.3f}s but r{record.replica} executed batch "
                        f"{_short(record.digest)} ({len(record.requests)} requests)"
                    ),
                    t=record.t,
                    seq=record.seq,
                    replicas=(earlier.replica, record.replica),
                )
            )
        previous = last_seq.get(record.replica)
        if previous is not None and record.seq <= previous:
            violations.append(
                Violation(
                    check="agreement",
                    message=(
                        f"r{record.replica} executed seq {record.seq} after seq {previous} "
                        "without restarting: its executed log is not a sequence"
                    ),
                    t=record.t,
                    seq=record.seq,
                    replicas=(record.replica,),
                )
            )
        last_seq[record.replica] = max(record.seq, previous or 0)
        held = reached[record.replica]
        if record.replica in restarted:
            # Rolled back to wherever recovery left it: this execution says where that was.
            restarted.discard(record.replica)
            reached[record.replica] = record.seq
            continue
        if record.seq > held + 1:
            violations.append(_hole(record, held))
        reached[record.replica] = max(held, record.seq)
    replicas = sorted({record.replica for record in facts.executions})
    return _verdict(
        "agreement",
        violations,
        f"{len(replicas)} correct replicas executed {len(first_at)} sequence numbers",
    )


def _hole(record: tr.Executed, held: int) -> Violation:
    """``record``'s replica skipped the seqs after ``held``, which it neither ran nor fetched."""
    missing = (
        f"seq {held + 1} is" if record.seq == held + 2 else f"seqs {held + 1}-{record.seq - 1} are"
    )
    return Violation(
        check="agreement",
        message=(
            f"r{record.replica} executed seq {record.seq} after seq {held} and fetched no "
            f"checkpoint in between: {missing} missing from its log"
        ),
        t=record.t,
        seq=record.seq,
        replicas=(record.replica,),
    )


def _state_divergence(
    first_state: dict[int, tr.CheckpointStabilized], record: tr.CheckpointStabilized
) -> list[Violation]:
    """A violation if ``record`` stabilized another state than the first correct replica did."""
    earlier = first_state.setdefault(record.seq, record)
    if earlier.state_digest == record.state_digest:
        return []
    return [
        Violation(
            check="agreement",
            message=(
                f"checkpoint {record.seq}: r{earlier.replica} stabilized state "
                f"{_short(earlier.state_digest)} at t={earlier.t:.3f}s but r{record.replica} "
                f"stabilized state {_short(record.state_digest)}"
            ),
            t=record.t,
            seq=record.seq,
            replicas=(earlier.replica, record.replica),
        )
    ]


def _principal(replica: int) -> str:
    return f"r{replica}"


def _replica_id(node: str) -> int:
    return int(node[1:]) if node.startswith("r") and node[1:].isdigit() else -1


def check_validity(records: Sequence[tr.Record]) -> Verdict:
    """Correct replicas execute only requests their clients signed and submitted (§4.1).

    A request is valid when the replica verified the client's signature (``signed``) and the
    trace shows the client submitting that timestamp with that operation, no later than the
    execution.
    """
    facts = _facts(records)
    submitted: dict[RequestKey, tr.Submitted] = {}
    for record in records:
        if isinstance(record, tr.Submitted):
            submitted.setdefault((record.client, record.timestamp), record)
    violations: list[Violation] = []
    count = 0
    for record in facts.executions:
        for request in record.requests:
            count += 1
            key = (request.client, request.timestamp)
            origin = submitted.get(key)
            problem = None
            if not request.signed:
                problem = "without a valid client signature"
            elif origin is None:
                problem = f"but {request.client} never submitted timestamp {request.timestamp}"
            elif origin.operation != request.operation:
                problem = (
                    f"with operation {_short(request.operation)} but {request.client} "
                    f"submitted {_short(origin.operation)}"
                )
            elif origin.t > record.t:
                problem = f"before {request.client} submitted it (t={origin.t:.3f}s)"
            if problem is not None:
                violations.append(
                    Violation(
                        check="validity",
                        message=(
                            f"r{record.replica} executed {request.client}'s request "
                            f"{request.timestamp} at seq {record.seq} {problem}"
                        ),
                        t=record.t,
                        seq=record.seq,
                        replicas=(record.replica,),
                        client=request.client,
                        timestamp=request.timestamp,
                    )
                )
    return _verdict("validity", violations, f"{count} request executions checked")


def check_integrity(records: Sequence[tr.Record]) -> Verdict:
    """No request (client, timestamp) is executed twice (§4.1).

    Judged on each correct replica's log (the same request at two sequence numbers, or twice
    in one batch) and on the agreed log they share: a request that one correct replica
    executed at seq 1 and another at seq 2 ran twice on the replicated service, even when
    neither replica ran it twice itself (the second skipped seq 1 by state transfer).
    Re-executing the same sequence number after a restart is not a double execution (the
    service state was rolled back to the checkpoint first); doing so without a restart is.
    """
    facts = _facts(records)
    where: dict[tuple[int, RequestKey], int] = {}
    agreed_at: dict[RequestKey, tr.Executed] = {}  # the first correct execution of each request
    since_start: dict[int, set[int]] = defaultdict(set)  # seqs each replica ran since (re)start
    violations: list[Violation] = []
    for record in records:
        if isinstance(record, tr.Restarted):
            since_start.pop(_replica_id(record.node), None)
            continue
        if not isinstance(record, tr.Executed) or _principal(record.replica) in facts.faulty:
            continue
        again = record.seq in since_start[record.replica]
        since_start[record.replica].add(record.seq)
        in_batch: set[RequestKey] = set()
        for request in record.requests:
            key = (request.client, request.timestamp)
            earlier_seq = where.setdefault((record.replica, key), record.seq)
            first = agreed_at.setdefault(key, record)
            replicas: tuple[int, ...] = (record.replica,)
            if key in in_batch:
                at = "twice in that batch"
            elif again:
                at = "it executed that seq before without restarting"
            elif earlier_seq != record.seq:
                at = f"after seq {earlier_seq}"
            elif first.seq != record.seq:
                at = f"r{first.replica} executed it at seq {first.seq}"
                replicas = (first.replica, record.replica)
            else:
                in_batch.add(key)
                continue
            violations.append(
                Violation(
                    check="integrity",
                    message=(
                        f"r{record.replica} executed {request.client}'s request "
                        f"{request.timestamp} again at seq {record.seq} ({at})"
                    ),
                    t=record.t,
                    seq=record.seq,
                    replicas=replicas,
                    client=request.client,
                    timestamp=request.timestamp,
                )
            )
            in_batch.add(key)
    return _verdict("integrity", violations, f"{len(where)} (replica, request) pairs checked")


def check_client_consistency(records: Sequence[tr.Record], *, app: str | None = None) -> Verdict:
    """Every accepted result is the agreed log's result, in real-time order (§4.1, §4.5.1).

    With ``app`` (the service the run used, a :func:`pbft.app.make_service` name), the agreed
    log (at each sequence number, the batch the first correct replica executed there) is
    replayed on a fresh service, and a client's Completed result must equal the replayed
    result of its request. Replay stops at the first sequence number no correct replica
    executed (all of them fetched it by state transfer): a result past that point, and every
    result when ``app`` is None, is compared with what correct replicas recorded instead.
    Correct replicas must also agree on each request's result. If request A completed before
    request B was submitted, A must precede B in the log (linearizability). Faulty clients
    (``RunStarted.faulty``) are promised nothing, so what they accepted is not judged.
    """
    facts = _facts(records)
    # request -> result -> the (replica, seq, t) executions that produced it, in trace order
    results: dict[RequestKey, dict[str, list[tuple[int, int, float]]]] = defaultdict(dict)
    position: dict[RequestKey, tuple[int, int]] = {}
    violations: list[Violation] = []
    for execution in facts.executions:
        if len(execution.results) != len(execution.requests):
            violations.append(
                Violation(
                    check="client_consistency",
                    message=(
                        f"r{execution.replica} executed {len(execution.requests)} requests but "
                        f"recorded {len(execution.results)} results at seq {execution.seq}"
                    ),
                    t=execution.t,
                    seq=execution.seq,
                    replicas=(execution.replica,),
                )
            )
        for index, request in enumerate(execution.requests):
            key = (request.client, request.timestamp)
            position.setdefault(key, (execution.seq, index))
            if index < len(execution.results):
                results[key].setdefault(execution.results[index], []).append(
                    (execution.replica, execution.seq, execution.t)
                )
    replay = _Replay() if app is None else _replay(facts.executions, app)
    for key, by_result in results.items():
        if len(by_result) > 1:
            first, second = sorted(by_result.items(), key=lambda item: item[1][0][2])[:2]
            (r1, [(a, seq, _), *_]), (r2, [(b, _, t), *_]) = first, second
            violations.append(
                Violation(
                    check="client_consistency",
                    message=(
                        f"correct replicas disagree on the result of {key[0]}'s request "
                        f"{key[1]}: r{a} computed {_short(r1)}, r{b} computed {_short(r2)}"
                    ),
                    t=t,
                    seq=seq,
                    replicas=(a, b),
                    client=key[0],
                    timestamp=key[1],
                )
            )
    accepted = [
        record
        for record in records
        if isinstance(record, tr.Completed) and record.client not in facts.faulty
    ]
    for record in accepted:
        key = (record.client, record.timestamp)
        wrong = _accepted_wrong(
            record,
            executed=key in position,
            agreed=results.get(key, {}),
            replayed=replay.results.get(key),
            app=app,
        )
        if wrong is not None:
            violations.append(wrong)
    violations.extend(_real_time_order(records, position, facts.faulty))
    return _verdict(
        "client_consistency",
        violations,
        f"{len(accepted)} accepted results checked against the agreed log"
        + ("" if app is None else f"; {replay.note}"),
    )


def _accepted_wrong(
    record: tr.Completed,
    *,
    executed: bool,
    agreed: Mapping[str, list[tuple[int, int, float]]],
    replayed: tuple[str, int] | None,
    app: str | None,
) -> Violation | None:
    """The violation, if any, of a client accepting ``record.result``.

    ``agreed`` maps each result correct replicas recorded for the request to who computed
    it; ``replayed`` is the replay's (result, seq) when the replay reached the request.
    """
    head = f"{record.client} accepted result {_short(record.result)} for request "
    replicas = tuple(sorted({a for done in agreed.values() for a, _, _ in done}))
    if not executed:
        message = f"{head}{record.timestamp}, which no correct replica executed"
        seq = None
    elif replayed is not None:
        expected, seq = replayed
        if record.result == expected:
            return None
        message = (
            f"{head}{record.timestamp}, but replaying the agreed log on a fresh {app} service "
            f"gives {_short(expected)} at seq {seq}"
        )
    elif agreed and record.result not in agreed:
        correct, [(replica, seq, _), *_] = next(iter(sorted(agreed.items())))
        message = (
            f"{head}{record.timestamp}, but correct replica r{replica} executed it at seq "
            f"{seq} with result {_short(correct)}"
        )
    else:
        return None  # the recorded results agree with it, or none was recorded (reported)
    return Violation(
        check="client_consistency",
        message=message,
        t=record.t,
        seq=seq,
        replicas=replicas,
        client=record.client,
        timestamp=record.timestamp,
    )


@attrs.frozen(kw_only=True)
class _Replay:
    """The results of replaying the agreed log: request -> (result hex, seq), and how far."""

    results: Mapping[RequestKey, tuple[str, int]] = attrs.field(factory=dict)
    note: str = ""


def _replay(executions: Sequence[tr.Executed], app: str) -> _Replay:
    """Replay the correct replicas' agreed log from seq 1 on a fresh ``app`` service.

    The batch at each sequence number is the first correct replica's execution there (a
    second, different one is an agreement violation, reported there). Executed records list
    only the requests a replica ran (a retransmission ordered twice is skipped, §4.1), so
    every listed request is run; one listed twice keeps its first result (integrity reports
    the duplicate).
    """
    from pbft.app import make_service  # the service layer sits below; loaded only to replay

    try:
        service = make_service(app)
    except ValueError as error:
        raise JudgeError(f"cannot replay the agreed log: {error}") from None
    log: dict[int, tr.Executed] = {}
    for execution in executions:
        log.setdefault(execution.seq, execution)
    results: dict[RequestKey, tuple[str, int]] = {}
    seq = 1
    stop = ""
    while seq in log:
        execution = log[seq]
        try:
            operations = [bytes.fromhex(request.operation) for request in execution.requests]
        except ValueError:
            stop = f" (seq {seq} holds an operation that is not hex)"
            break
        for request, operation in zip(execution.requests, operations, strict=True):
            result = service.execute(operation).hex()
            results.setdefault((request.client, request.timestamp), (result, seq))
        seq += 1
    last = max(log, default=0)
    if not stop and seq <= last:
        stop = f" (no correct replica executed seq {seq})"
    if seq == 1:
        note = f"nothing replayed{stop}" if log else "no executions to replay"
    else:
        note = f"replayed seq 1-{seq - 1} on a fresh {app} service{stop}"
    return _Replay(results=results, note=note)


def _real_time_order(
    records: Sequence[tr.Record],
    position: Mapping[RequestKey, tuple[int, int]],
    faulty: frozenset[str],
) -> list[Violation]:
    """Requests submitted after another completed must come later in the log.

    Only correct clients' completions and submissions count: a faulty client's are claims.
    """
    latest: tuple[tuple[int, int], RequestKey, float] | None = None
    violations: list[Violation] = []
    for record in records:
        if isinstance(record, tr.Completed | tr.Submitted) and record.client in faulty:
            continue
        match record:
            case tr.Completed(client=client, timestamp=timestamp, t=t):
                at = position.get((client, timestamp))
                if at is not None and (latest is None or at > latest[0]):
                    latest = (at, (client, timestamp), t)
            case tr.Submitted(client=client, timestamp=timestamp, t=t) if latest is not None:
                at = position.get((client, timestamp))
                if at is not None and at < latest[0]:
                    (seq_a, _), (done_client, done_ts), done_t = latest
                    violations.append(
                        Violation(
                            check="client_consistency",
                            message=(
                                f"{client}'s request {timestamp} was submitted at t={t:.3f}s, "
                                f"after {done_client}'s request {done_ts} completed at "
                                f"t={done_t:.3f}s, yet the log puts it first (seq {at[0]} "
                                f"before seq {seq_a})"
                            ),
                            t=t,
                            seq=at[0],
                            client=client,
                            timestamp=timestamp,
                        )
                    )
    return violations


def check_liveness(
    records: Sequence[tr.Record],
    *,
    expected: Mapping[str, int] | None = None,
    deadline_s: float | None = None,
    stable_from_s: float | None = None,
) -> LivenessVerdict:
    """Every request of a correct client completes by the deadline (§4.5.2).

    ``expected`` maps each client to how many requests it was to make (the workload); without
    it, every submitted request is expected. Faulty clients (``RunStarted.faulty``) are owed
    nothing. ``deadline_s`` defaults to the end of the trace.
    PBFT promises liveness only after GST and once faults heal (``stable_from_s``, reported in
    the summary); the scenario chooses a deadline after that.
    """
    facts = _facts(records)
    deadline = facts.end_time_s if deadline_s is None else deadline_s
    submitted: dict[RequestKey, tr.Submitted] = {}
    completed: dict[str, set[int]] = defaultdict(set)
    for record in records:
        if isinstance(record, tr.Submitted) and record.client not in facts.faulty:
            submitted.setdefault((record.client, record.timestamp), record)
        elif (
            isinstance(record, tr.Completed)
            and record.client not in facts.faulty
            and record.t <= deadline
        ):
            completed[record.client].add(record.timestamp)
    wanted: dict[str, int] = (
        {client: count for client, count in expected.items() if client not in facts.faulty}
        if expected is not None
        else {}
    )
    if expected is None:
        for client, _ in submitted:
            wanted[client] = wanted.get(client, 0) + 1
    violations: list[Violation] = []
    for (client, timestamp), record in sorted(submitted.items(), key=lambda i: i[1].t):
        if timestamp not in completed[client]:
            violations.append(
                Violation(
                    check="liveness",
                    message=(
                        f"{client}'s request {timestamp}, submitted at t={record.t:.3f}s, did "
                        f"not complete by t={deadline:.3f}s"
                    ),
                    t=record.t,
                    client=client,
                    timestamp=timestamp,
                )
            )
    done_total = 0
    for client in sorted(wanted):
        done = min(len(completed[client]), wanted[client])
        done_total += done
        sent = sum(1 for c, _ in submitted if c == client)
        if sent < wanted[client] and sent == done:
            # Every submitted request completed, yet the client never got to the rest.
            violations.append(
                Violation(
                    check="liveness",
                    message=(
                        f"{client} completed {done} of its {wanted[client]} requests by "
                        f"t={deadline:.3f}s"
                    ),
                    t=deadline,
                    client=client,
                )
            )
    expected_total = sum(wanted.values())
    ordered = sorted(violations, key=_when)
    stable = "" if stable_from_s is None else f", stable from t={stable_from_s:.3f}s"
    return LivenessVerdict(
        check="liveness",
        ok=not ordered and done_total >= expected_total,
        violations=tuple(ordered[:MAX_VIOLATIONS]),
        violation_count=len(ordered),
        summary=f"{done_total}/{expected_total} requests completed by t={deadline:.3f}s{stable}",
        completed=done_total,
        expected=expected_total,
        deadline_s=deadline,
    )


def check_bounded_log(records: Sequence[tr.Record]) -> Verdict:
    """No correct replica holds more sequence-number slots than its window L (§4.3)."""
    facts = _facts(records)
    violations: list[Violation] = []
    largest = 0
    for record in records:
        if not isinstance(record, tr.LogSize):
            continue
        if _principal(record.replica) in facts.faulty:
            continue
        largest = max(largest, record.slots)
        if record.slots > record.window:
            violations.append(
                Violation(
                    check="bounded_log",
                    message=(
                        f"r{record.replica} holds {record.slots} log slots, more than the "
                        f"window of {record.window}"
                    ),
                    t=record.t,
                    replicas=(record.replica,),
                )
            )
    return _verdict("bounded_log", violations, f"largest log of a correct replica: {largest}")


def committed_requests(records: Sequence[tr.Record]) -> int:
    """Distinct requests in the correct replicas' executed logs."""
    facts = _facts(records)
    return len({(r.client, r.timestamp) for record in facts.executions for r in record.requests})


def highest_view(records: Iterable[tr.Record], faulty: frozenset[str] = frozenset()) -> int:
    """The highest view any correct replica entered (0 when none is traced)."""
    return max(
        (
            record.view
            for record in records
            if isinstance(record, tr.ViewEntered) and _principal(record.replica) not in faulty
        ),
        default=0,
    )


def judge(
    records: Sequence[tr.Record],
    *,
    expected: Mapping[str, int] | None = None,
    deadline_s: float | None = None,
    stable_from_s: float | None = None,
    app: str | None = None,
) -> Judgement:
    """Run every checker on one trace; raise :class:`JudgeError` if it cannot be judged.

    ``app`` names the service the run executed on, so client consistency can replay the
    agreed log (the trace does not say which service it was).
    """
    facts = _facts(records)
    verdicts: dict[str, Verdict] = {
        "agreement": check_agreement(records),
        "validity": check_validity(records),
        "integrity": check_integrity(records),
        "client_consistency": check_client_consistency(records, app=app),
        "bounded_log": check_bounded_log(records),
        "liveness": check_liveness(
            records, expected=expected, deadline_s=deadline_s, stable_from_s=stable_from_s
        ),
    }
    assert tuple(verdicts) == ALL_CHECKS
    return Judgement(
        verdicts=verdicts,
        committed=committed_requests(records),
        views=highest_view(records, facts.faulty),
        end_time_s=facts.end_time_s,
        faulty=tuple(sorted(facts.faulty)),
    )
