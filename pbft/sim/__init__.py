"""The deterministic simulator: a scenario and a seed in, a trace out (docs/simulator.md).

Same scenario + same seed = byte-identical trace. :func:`simulate` is the entry point used by
:mod:`pbft.scenario.run`; :class:`pbft.sim.runner.Simulation` is the machinery underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from pbft.scenario.model import Scenario
from pbft.sim.cores import Cores, RealCores
from pbft.sim.runner import Simulation, SimulationError
from pbft.trace.records import Record

if TYPE_CHECKING:
    from pbft.replica import ReplicaStatus

__all__ = ["SimRun", "Simulation", "SimulationError", "simulate"]


@attrs.frozen(kw_only=True)
class SimRun:
    """The outcome of one simulated run.

    ``faulty_replicas`` are the Byzantine ones (listed in ``RunStarted.faulty``);
    ``correct_replicas`` are all others, including replicas that crashed (their executions
    before the crash still count for agreement; ``down_replicas`` lists those still crashed at
    the end, which cannot be expected to have made progress). ``replica_status`` holds the
    final status of every correct replica that is up at the end. ``last_fault_s`` is when the
    last scheduled fault ended (a pause or slowdown lasts its duration; GST counts too).
    """

    scenario: Scenario
    seed: int
    records: tuple[Record, ...]
    correct_replicas: tuple[int, ...]
    faulty_replicas: tuple[int, ...]
    replica_status: dict[int, ReplicaStatus]
    end_time_s: float
    last_fault_s: float
    end_reason: str
    down_replicas: tuple[int, ...] = ()


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    on_progress: Callable[[float], None] | None = None,
    wire: bool = False,
    cores: Cores | None = None,
) -> SimRun:
    """Run ``scenario`` in virtual time with ``seed`` (default: ``scenario.seed``).

    ``on_progress`` is called with the virtual time now and then (about 100 times up to the
    deadline, and once at the end). ``wire=True`` sends every delivered envelope through the
    codec (encode, then decode) to exercise it. ``cores`` replaces the real replica, client,
    crypto and services (tests use fakes). Raises :class:`SimulationError` (a ValueError) for
    a scenario that cannot run, and :class:`pbft.config.ConfigError` for a bad cluster.
    """
    run_seed = scenario.seed if seed is None else seed
    simulation = Simulation(
        scenario,
        seed=run_seed,
        cores=cores if cores is not None else RealCores(),
        wire=wire,
        on_progress=on_progress,
    )
    reason = simulation.run()
    return run_result(simulation, reason)


def run_result(simulation: Simulation, reason: str) -> SimRun:
    """Package a finished :class:`Simulation` as a :class:`SimRun`."""
    replicas = [node for node in simulation.nodes.values() if node.replica is not None]
    correct = tuple(node.replica for node in replicas if node.honest and node.replica is not None)
    faulty = tuple(
        node.replica for node in replicas if not node.honest and node.replica is not None
    )
    down = tuple(
        node.replica for node in replicas if node.core is None and node.replica is not None
    )
    status = {
        int(node.replica): node.core.status()
        for node in replicas
        if node.honest and node.core is not None and node.replica is not None
    }
    return SimRun(
        scenario=simulation.scenario,
        seed=simulation.seed,
        records=tuple(simulation.records),
        correct_replicas=correct,
        faulty_replicas=faulty,
        replica_status=status,
        end_time_s=simulation.now,
        last_fault_s=simulation.last_fault_s,
        end_reason=reason,
        down_replicas=down,
    )
