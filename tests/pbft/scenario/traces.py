"""Hand-built traces for checker and report tests.

The honest trace runs real kv operations, and its results are what a fresh kv store returns
when the log is replayed, so the checkers can judge it with the service replay on.
"""

from __future__ import annotations

from pbft.app import KvStore, kv
from pbft.trace import records as tr

OP_PUT = kv.put("k0", b"v1").hex()
OP_GET = kv.get("k0").hex()


def kv_results(*operations: str) -> tuple[str, ...]:
    """What a fresh kv store returns for ``operations`` (hex), executed in order."""
    store = KvStore()
    return tuple(store.execute(bytes.fromhex(operation)).hex() for operation in operations)


PUT_RESULT, GET_RESULT = kv_results(OP_PUT, OP_GET)


def request(
    client: str, timestamp: int, operation: str = OP_PUT, *, signed: bool = True
) -> tr.ExecutedRequest:
    return tr.ExecutedRequest(
        client=client, timestamp=timestamp, operation=operation, signed=signed
    )


def executed(
    replica: int,
    seq: int,
    requests: tuple[tr.ExecutedRequest, ...],
    *,
    t: float,
    digest: str | None = None,
    results: tuple[str, ...] | None = None,
) -> tr.Executed:
    return tr.Executed(
        t=t,
        replica=replica,
        view=0,
        seq=seq,
        digest=digest or f"d0{seq:02x}",
        requests=requests,
        results=results if results is not None else tuple(f"e0{r.timestamp:02x}" for r in requests),
    )


def honest_trace(*, faulty: tuple[str, ...] = ()) -> list[tr.Record]:
    """Client c0 puts k0 then gets it; four replicas execute them at seq 1 and 2."""
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=faulty),
        tr.ViewEntered(t=0.0, replica=0, view=0),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
    ]
    trace += [
        executed(r, 1, (request("c0", 1),), t=0.2 + r / 100, results=(PUT_RESULT,))
        for r in range(4)
    ]
    trace += [
        tr.Completed(t=0.3, client="c0", timestamp=1, operation=OP_PUT, result=PUT_RESULT),
        tr.Submitted(t=0.4, client="c0", timestamp=2, operation=OP_GET),
    ]
    trace += [
        executed(r, 2, (request("c0", 2, OP_GET),), t=0.5 + r / 100, results=(GET_RESULT,))
        for r in range(4)
    ]
    trace += [
        tr.Completed(t=0.6, client="c0", timestamp=2, operation=OP_GET, result=GET_RESULT),
        tr.LogSize(t=0.6, replica=1, slots=2, window=32),
        tr.RunEnded(t=0.7, reason="all-completed"),
    ]
    return trace


def with_results(trace: list[tr.Record], timestamp: int, result: str) -> list[tr.Record]:
    """``trace`` with every execution and the completion of c0's ``timestamp`` giving ``result``."""
    changed: list[tr.Record] = []
    for record in trace:
        if isinstance(record, tr.Executed) and record.requests[0].timestamp == timestamp:
            record = executed(
                record.replica, record.seq, record.requests, t=record.t, results=(result,)
            )
        elif isinstance(record, tr.Completed) and record.timestamp == timestamp:
            record = tr.Completed(
                t=record.t,
                client=record.client,
                timestamp=timestamp,
                operation=record.operation,
                result=result,
            )
        changed.append(record)
    return changed
