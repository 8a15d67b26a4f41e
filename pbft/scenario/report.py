"""Reports of runs: a human one (rich) and a JSON one, both from a :class:`RunResult`.

The human report says what ran, what was committed, which views were reached, and for each
check whether it held, with its first counterexample when it did not. The JSON report
(docs/scenarios.md, "Reports") is one object per run, stable for scripts.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pbft.scenario.checkers import LivenessVerdict, Verdict, Violation
from pbft.scenario.run import RunResult

__all__ = ["print_report", "result_to_json", "violation_to_json"]


def violation_to_json(violation: Violation) -> dict[str, Any]:
    return {
        "check": violation.check,
        "message": violation.message,
        "t": violation.t,
        "seq": violation.seq,
        "replicas": list(violation.replicas),
        "client": violation.client,
        "timestamp": violation.timestamp,
    }


def _verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": verdict.ok,
        "violation_count": verdict.violation_count,
        "violations": [violation_to_json(v) for v in verdict.violations],
        "summary": verdict.summary,
    }
    if isinstance(verdict, LivenessVerdict):
        body["completed"] = verdict.completed
        body["expected"] = verdict.expected
        body["deadline_s"] = verdict.deadline_s
    return body


def result_to_json(result: RunResult) -> dict[str, Any]:
    """One JSON-ready object describing ``result`` (without the records themselves)."""
    safety_violations = [
        violation_to_json(v)
        for name, verdict in result.verdicts.items()
        if name != "liveness"
        for v in verdict.violations
    ]
    liveness = result.liveness
    return {
        "scenario": result.scenario.name,
        "source": result.scenario.source,
        "seed": result.seed,
        "passed": result.passed,
        "safety": {"ok": result.safety_ok, "violations": safety_violations},
        "liveness": {
            "ok": liveness.ok,
            "completed": liveness.completed,
            "expected": liveness.expected,
            "violations": [violation_to_json(v) for v in liveness.violations],
        },
        "expectations": [
            {"name": e.name, "met": e.met, "wanted": e.wanted, "observed": e.observed}
            for e in result.expectations
        ],
        "checks": {name: _verdict_to_json(v) for name, v in result.verdicts.items()},
        "committed": result.committed,
        "views": result.views,
        "virtual_time_s": result.virtual_time_s,
        "stable_from_s": result.stable_from_s,
        "end_reason": result.end_reason,
        "records": len(result.records),
        "trace_sha256": result.trace_sha256,
    }


def describe_violation(violation: Violation) -> str:
    """The counterexample in one line: where (seq, replicas), when, and what."""
    where = []
    if violation.seq is not None:
        where.append(f"seq {violation.seq}")
    if violation.replicas:
        where.append("replicas " + ", ".join(f"r{r}" for r in violation.replicas))
    if violation.t is not None:
        where.append(f"t={violation.t:.3f}s")
    prefix = f"[{'; '.join(where)}] " if where else ""
    return prefix + violation.message


def print_report(console: Console, result: RunResult, *, trace_path: str | None = None) -> None:
    """Print the human report of one run."""
    scenario = result.scenario
    cluster = scenario.cluster
    workload = scenario.workload
    mark = "[bold green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    console.print(
        f"{mark} [bold]{escape(scenario.name)}[/] (seed {result.seed}) "
        f"[dim]{escape(scenario.source)}[/]"
    )
    console.print(
        f"  n={cluster.size} f={cluster.f}{' unsafe' if cluster.unsafe else ''}, "
        f"{len(scenario.byzantine)} Byzantine, {_count(workload.clients, 'client')} x "
        f"{_count(workload.requests, 'request')}; committed "
        f"{_count(result.committed, 'request')}, highest view {result.views}, "
        f"virtual time {result.virtual_time_s:.3f}s"
        + (f" ({escape(result.end_reason)})" if result.end_reason else "")
    )
    width = max(len(name) for name in result.verdicts)
    for name, verdict in result.verdicts.items():
        status = "[green]held  [/]" if verdict.ok else "[red]FAILED[/]"
        text = escape(verdict.summary)
        if verdict.first is not None:
            more = verdict.violation_count - 1
            text = escape(describe_violation(verdict.first)) + (
                f" [dim](+{more} more)[/]" if more else ""
            )
        console.print(f"  {name:<{width}}  {status}  {text}")
    for item in result.expectations:
        status = "[green]met[/]" if item.met else "[red]NOT met[/]"
        console.print(
            f"  expect {item.name} {escape(item.wanted)}: observed "
            f"{escape(item.observed)}: {status}"
        )
    console.print(f"  [dim]trace sha256 {result.trace_sha256}[/]")
    if trace_path is not None:
        console.print(f"  [dim]trace written to {escape(trace_path)}[/]")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
