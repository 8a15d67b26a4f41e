"""Run a scenario in the simulator and judge it against the scenario's own expectations.

This is the library face of ``pbft run`` (docs/embedding.md)::

    result = run_scenario(load_scenario("scenarios/quickstart.toml"))
    assert result.passed, result.verdicts

A run passes when every expectation of its ``[expect]`` table is met: ``safety = true`` means
every safety check holds, ``safety = false`` that at least one is violated (a demonstration
that the checkers catch what PBFT cannot prevent beyond f faults); ``liveness`` likewise;
``min_committed`` and ``max_view`` bound the committed requests and the highest view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from pbft.app import SERVICE_NAMES
from pbft.scenario.checkers import (
    SAFETY_CHECKS,
    JudgeError,
    Judgement,
    LivenessVerdict,
    Verdict,
    judge,
)
from pbft.scenario.model import ClusterSpec, ExpectSpec, Scenario, WorkloadSpec
from pbft.trace.io import trace_sha256
from pbft.trace.records import Record, RunEnded, RunStarted, Submitted

__all__ = [
    "Expectation",
    "JudgeError",
    "RunResult",
    "expected_requests",
    "judge_trace",
    "run_scenario",
]


@attrs.frozen(kw_only=True)
class Expectation:
    """One line of ``[expect]``: what was wanted, what was observed, and whether it was met."""

    name: str  # "safety", "liveness", "min_committed", "max_view"
    met: bool
    wanted: str
    observed: str


@attrs.frozen(kw_only=True)
class RunResult:
    """The outcome of one run (or of re-judging one saved trace)."""

    scenario: Scenario
    seed: int
    passed: bool
    verdicts: Mapping[str, Verdict]  # one per check, in checkers.ALL_CHECKS order
    expectations: tuple[Expectation, ...]
    committed: int  # distinct requests in the correct replicas' executed logs
    views: int  # highest view a correct replica entered
    virtual_time_s: float
    trace_sha256: str
    records: tuple[Record, ...] = attrs.field(repr=False)
    end_reason: str = ""
    stable_from_s: float = 0.0  # GST or the end of the last fault, whichever is later

    @property
    def safety_ok(self) -> bool:
        return all(self.verdicts[name].ok for name in SAFETY_CHECKS)

    @property
    def liveness(self) -> LivenessVerdict:
        verdict = self.verdicts["liveness"]
        assert isinstance(verdict, LivenessVerdict)
        return verdict


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    *,
    on_progress: Callable[[float], None] | None = None,
    wire: bool = False,
) -> RunResult:
    """Simulate ``scenario`` with ``seed`` (default: the scenario's) and judge the trace.

    With ``wire``, every delivered message is encoded and strictly decoded on the way, as a
    network runtime would; the trace is the same, only slower to make.

    Raises ValueError (:class:`pbft.sim.SimulationError`, :class:`pbft.config.ConfigError`)
    when the scenario cannot run; a built-in scenario from the loader always can.
    """
    from pbft.sim import simulate  # the simulator sits below us; imported on use for speed

    run = simulate(scenario, seed=seed, on_progress=on_progress, wire=wire)
    return _result(
        scenario,
        seed=run.seed,
        records=run.records,
        stable_from_s=run.last_fault_s,
        end_reason=run.end_reason,
        expected=expected_requests(scenario),
        app=scenario.cluster.app,
    )


def judge_trace(records: Sequence[Record], scenario: Scenario | None = None) -> RunResult:
    """Re-judge a saved trace, against ``scenario``'s expectations when one is given.

    Without a scenario, safety must hold and every submitted request must have completed by
    the end of the trace; accepted results are replayed on the service the trace names (a trace
    that names none is compared with the correct replicas' recorded results instead).
    Raises :class:`JudgeError` when the trace has no single RunStarted.
    """
    started = [record for record in records if isinstance(record, RunStarted)]
    if len(started) != 1:
        raise JudgeError(f"a trace must hold exactly one RunStarted record, found {len(started)}")
    start = started[0]
    ended = [record for record in records if isinstance(record, RunEnded)]
    if scenario is None:
        scenario = Scenario(
            name=start.scenario,
            seed=start.seed,
            cluster=ClusterSpec(
                f=start.f,
                n=start.n,
                unsafe=start.n < 3 * start.f + 1,
                app=start.app if start.app in SERVICE_NAMES else "kv",  # type: ignore[arg-type]
            ),
            workload=_workload_seen(records),
            expect=ExpectSpec(within_s=max((record.t for record in records), default=0.0)),
            source="<trace>",
        )
        expected = None
        app = start.app if start.app in SERVICE_NAMES else None
    else:
        expected = expected_requests(scenario)
        app = scenario.cluster.app
    return _result(
        scenario,
        seed=start.seed,
        records=tuple(records),
        stable_from_s=stable_from_s(scenario),
        end_reason=ended[-1].reason if ended else "",
        expected=expected,
        app=app,
    )


def _workload_seen(records: Sequence[Record]) -> WorkloadSpec:
    """The workload as far as a trace shows it: its clients and their most requests."""
    per_client: dict[str, int] = {}
    for record in records:
        if isinstance(record, Submitted):
            per_client[record.client] = per_client.get(record.client, 0) + 1
    return WorkloadSpec(
        clients=max(len(per_client), 1), requests=max(per_client.values(), default=0)
    )


def expected_requests(scenario: Scenario) -> dict[str, int]:
    """How many requests each client of the workload is to make (clients are c0, c1, ...)."""
    workload = scenario.workload
    return {f"c{index}": workload.requests for index in range(workload.clients)}


def stable_from_s(scenario: Scenario) -> float:
    """When the network is past GST and every scheduled fault has ended (faults are data)."""
    ends = [fault.at_s + fault.duration_s for fault in scenario.faults]
    return max([scenario.network.gst_s, *ends])


def _result(
    scenario: Scenario,
    *,
    seed: int,
    records: tuple[Record, ...],
    stable_from_s: float,
    end_reason: str,
    expected: Mapping[str, int] | None,
    app: str | None,
) -> RunResult:
    """Judge ``records``; ``expected`` None means every submitted request is expected, and
    ``app`` None that results are not replayed (the service is unknown)."""
    judgement = judge(
        records,
        expected=expected,
        deadline_s=scenario.expect.within_s,
        stable_from_s=stable_from_s,
        app=app,
    )
    expectations = evaluate(scenario.expect, judgement)
    return RunResult(
        scenario=scenario,
        seed=seed,
        passed=all(item.met for item in expectations),
        verdicts=judgement.verdicts,
        expectations=expectations,
        committed=judgement.committed,
        views=judgement.views,
        virtual_time_s=judgement.end_time_s,
        trace_sha256=trace_sha256(records),
        records=records,
        end_reason=end_reason,
        stable_from_s=stable_from_s,
    )


def evaluate(expect: ExpectSpec, judgement: Judgement) -> tuple[Expectation, ...]:
    """Compare a judgement with ``[expect]``; each line says what was wanted and observed."""
    broken = [name for name in SAFETY_CHECKS if not judgement.verdicts[name].ok]
    safety_observed = "violated: " + ", ".join(broken) if broken else "held"
    liveness = judgement.liveness
    liveness_observed = (
        f"{'held' if liveness.ok else 'failed'} "
        f"({liveness.completed}/{liveness.expected} requests completed)"
    )
    items = [
        Expectation(
            name="safety",
            met=not broken if expect.safety else bool(broken),
            wanted="to hold" if expect.safety else "to be violated",
            observed=safety_observed,
        ),
        Expectation(
            name="liveness",
            met=liveness.ok if expect.liveness else not liveness.ok,
            wanted="to hold" if expect.liveness else "to fail",
            observed=liveness_observed,
        ),
    ]
    if expect.min_committed > 0:
        items.append(
            Expectation(
                name="min_committed",
                met=judgement.committed >= expect.min_committed,
                wanted=f">= {expect.min_committed}",
                observed=str(judgement.committed),
            )
        )
    if expect.max_view is not None:
        items.append(
            Expectation(
                name="max_view",
                met=judgement.views <= expect.max_view,
                wanted=f"<= {expect.max_view}",
                observed=str(judgement.views),
            )
        )
    return tuple(items)
