"""Hand-built traces for checker and report tests."""

from __future__ import annotations

from pbft.trace import records as tr

OP_PUT = "a1"
OP_GET = "a2"


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
    """Client c0 runs two requests; four replicas execute them at seq 1 and 2."""
    trace: list[tr.Record] = [
        tr.RunStarted(t=0.0, scenario="hand", seed=1, n=4, f=1, faulty=faulty),
        tr.ViewEntered(t=0.0, replica=0, view=0),
        tr.Submitted(t=0.1, client="c0", timestamp=1, operation=OP_PUT),
    ]
    trace += [executed(r, 1, (request("c0", 1),), t=0.2 + r / 100) for r in range(4)]
    trace += [
        tr.Completed(t=0.3, client="c0", timestamp=1, operation=OP_PUT, result="e001"),
        tr.Submitted(t=0.4, client="c0", timestamp=2, operation=OP_GET),
    ]
    trace += [executed(r, 2, (request("c0", 2, OP_GET),), t=0.5 + r / 100) for r in range(4)]
    trace += [
        tr.Completed(t=0.6, client="c0", timestamp=2, operation=OP_GET, result="e002"),
        tr.LogSize(t=0.6, replica=1, slots=2, window=32),
        tr.RunEnded(t=0.7, reason="all-completed"),
    ]
    return trace
