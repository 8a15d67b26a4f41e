"""The protocol core stays pure: no clock, socket, file, thread or randomness imports.

Determinism is what makes a simulated run replayable from its seed and a Byzantine
counterexample reproducible, and the core keeps it by construction: time arrives as ``now_s``
and I/O leaves as effects (docs/architecture.md). This test walks the import statements of
every core module and fails on any forbidden module, imported directly (``import time``,
``import os.path``) or through ``from x import y``. It also keeps the core below the drivers
(layers point down only). It checks each module's own imports, not what they import in turn:
``crypto`` may read key files, and is not the core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE_PATHS = (
    "pbft/replica",
    "pbft/client.py",
    "pbft/app",
    "pbft/timeouts.py",
    "pbft/messages",
)

FORBIDDEN_MODULES = frozenset(
    {
        "asyncio",
        "datetime",
        "os",
        "random",
        "secrets",
        "socket",
        "threading",
        "time",
        "trio",
    }
)

# Ways around the list above: a module imported by name at run time.
DYNAMIC_IMPORTS = frozenset({"importlib"})

# Layers above the core: the core must not reach up into its drivers.
UPPER_LAYERS = ("pbft.sim", "pbft.runtime", "pbft.scenario", "pbft.cli", "pbft.bench", "adversary")


def imported_modules(source: str, *, filename: str = "<source>") -> list[tuple[int, list[str]]]:
    """For each absolute import in ``source``: its line and the module names it may load.

    ``import a, b`` names a and b; ``from x import y`` names x and x.y (y may be a
    submodule). Relative imports (``from . import y``) stay inside their package: skipped.
    """
    imports: list[tuple[int, list[str]]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            imports.extend((node.lineno, [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            candidates = [node.module]
            candidates += [f"{node.module}.{alias.name}" for alias in node.names]
            imports.append((node.lineno, candidates))
    return imports


def _why_impure(name: str) -> str | None:
    top = name.split(".", 1)[0]
    if top in FORBIDDEN_MODULES or top in DYNAMIC_IMPORTS:
        return f"imports {name}"
    for layer in UPPER_LAYERS:
        if name == layer or name.startswith(layer + "."):
            return f"imports {name}, a layer above the core"
    return None


def impurities(source: str, *, filename: str = "<source>") -> list[str]:
    """Each forbidden import in ``source`` as ``"<file>:<line>: <why>"``; empty if pure."""
    found = []
    for line, candidates in imported_modules(source, filename=filename):
        reasons = [reason for name in candidates if (reason := _why_impure(name)) is not None]
        if reasons:
            found.append(f"{filename}:{line}: {reasons[0]}")
    # A forbidden module could also arrive through __import__("os"); refuse the spelling.
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Name) and node.id == "__import__":
            found.append(f"{filename}:{node.lineno}: calls __import__")
    return found


def core_modules() -> list[Path]:
    modules: list[Path] = []
    for relative in CORE_PATHS:
        path = ROOT / relative
        if path.is_dir():
            modules.extend(sorted(path.rglob("*.py")))
        else:
            modules.append(path)
    return modules


def test_the_core_modules_exist() -> None:
    """Guards the walk itself: a renamed package must not make the purity test vacuous."""
    modules = core_modules()
    assert all(module.is_file() for module in modules)
    names = {module.relative_to(ROOT).as_posix() for module in modules}
    assert {"pbft/client.py", "pbft/timeouts.py", "pbft/app/kv.py"} <= names
    assert any(name.startswith("pbft/messages/") for name in names)


@pytest.mark.parametrize(
    "module", core_modules(), ids=lambda path: path.relative_to(ROOT).as_posix()
)
def test_core_module_imports_nothing_impure(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    assert impurities(source, filename=module.relative_to(ROOT).as_posix()) == []


@pytest.mark.parametrize(
    ("source", "culprit"),
    [
        ("import time\n", "imports time"),
        ("import os.path\n", "imports os.path"),
        ("from random import Random\n", "imports random"),
        ("from datetime import datetime\n", "imports datetime"),
        ("import socket as s\n", "imports socket"),
        ("import json, trio\n", "imports trio"),
        ("def f():\n    import threading\n", "imports threading"),
        ("try:\n    import asyncio\nexcept ImportError:\n    pass\n", "imports asyncio"),
        ("from secrets import token_bytes\n", "imports secrets"),
        ("import importlib\n", "imports importlib"),
        ("m = __import__('os')\n", "calls __import__"),
        ("from pbft.sim import network\n", "a layer above the core"),
        ("from pbft import runtime\n", "imports pbft.runtime, a layer above the core"),
        ("import adversary.behavior\n", "a layer above the core"),
    ],
)
def test_checker_catches_each_kind_of_impure_import(source: str, culprit: str) -> None:
    found = impurities(source, filename="synthetic.py")
    assert len(found) == 1
    assert found[0].startswith("synthetic.py:")
    assert culprit in found[0]


@pytest.mark.parametrize(
    "source",
    [
        "import attrs\nimport cbor2\n",
        "from pbft.messages import sign\n",
        "from . import kv\nfrom .encoding import encode\n",
        "import timeit_free_name as timeless\n",  # a name that merely starts with 'time'
        "from typing import TYPE_CHECKING\n",
        "import crypto\n",
    ],
)
def test_checker_accepts_pure_imports(source: str) -> None:
    assert impurities(source) == []
