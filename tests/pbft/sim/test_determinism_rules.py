"""The simulator reads no wall clock and draws randomness only from its own seeded source."""

from __future__ import annotations

import ast
from pathlib import Path

import pbft.sim

SIM_DIR = Path(pbft.sim.__file__).parent
FORBIDDEN_MODULES = {"time", "datetime", "os", "secrets", "socket", "threading", "asyncio", "trio"}


def problems(source: str) -> list[str]:
    """Imports of clock/OS/IO modules, and uses of the global ``random`` functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module.split(".")[0]]
            if node.module == "random":
                names += [f"random.{alias.name}" for alias in node.names if alias.name != "Random"]
        else:
            names = []
        found += [name for name in names if name in FORBIDDEN_MODULES or "." in name]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr != "Random"
        ):
            found.append(f"random.{node.attr}")
    return found


def test_the_checker_catches_a_clock_read_and_a_global_random_draw() -> None:
    bad = "import time\nimport random\nfrom random import choice\nx = random.random()\n"
    assert problems(bad) == ["time", "random.choice", "random.random"]
    assert problems("import random\nrng = random.Random(1)\n") == []


def test_no_simulator_module_reads_the_clock_or_the_global_random_source() -> None:
    modules = sorted(SIM_DIR.glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        assert problems(module.read_text()) == [], module.name
