"""Scenarios: the model, the TOML loader, the checkers, runs and reports (docs/scenarios.md).

The usual entry points for code that embeds pbft (docs/embedding.md)::

    from pbft.scenario import load_scenario, run_scenario
"""

from pbft.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from pbft.scenario.model import Scenario
from pbft.scenario.run import RunResult, judge_trace, run_scenario

__all__ = [
    "RunResult",
    "Scenario",
    "ScenarioError",
    "judge_trace",
    "load_scenario",
    "run_scenario",
    "scenario_from_dict",
]
