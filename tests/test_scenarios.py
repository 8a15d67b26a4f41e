"""Every scenario file in scenarios/ is a test: run it and check the file's own [expect].

A failure prints each unmet expectation and the first counterexample of each failed check,
which is what to report (never weaken a file's expectation to make it pass).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbft.scenario.loader import load_scenario
from pbft.scenario.report import describe_violation
from pbft.scenario.run import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("**/*.toml"))


def explain(result: RunResult) -> str:
    lines = [f"{result.scenario.name} (seed {result.seed}) did not meet its expectations:"]
    lines += [
        f"  expect {item.name} {item.wanted}: observed {item.observed}"
        for item in result.expectations
        if not item.met
    ]
    lines += [
        f"  {name}: {describe_violation(verdict.first)}"
        for name, verdict in result.verdicts.items()
        if verdict.first is not None
    ]
    return "\n".join(lines)


def test_there_are_scenarios_to_run() -> None:
    assert len(SCENARIOS) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[str(p.relative_to(ROOT)) for p in SCENARIOS])
def test_scenario_meets_its_own_expectations(path: Path) -> None:
    scenario = load_scenario(path)
    assert path.read_text().startswith("#"), "each scenario file starts with what it teaches"
    result = run_scenario(scenario)
    assert result.passed, explain(result)
