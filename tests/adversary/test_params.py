"""Shared parameter parsing, and the import cycle it exists to avoid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adversary.behavior import BehaviorParamError
from adversary.params import (
    other_replicas,
    param_bool,
    param_choice,
    param_int,
    param_names,
    param_replica_groups,
    param_text,
)
from pbft.ids import ReplicaId

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("equivocation", "lies", "mutate", "replay", "params", "silent", "behavior")


@pytest.mark.parametrize("module", MODULES)
def test_any_behaviour_module_can_be_imported_first_and_registers_them_all(module: str) -> None:
    code = (
        f"import adversary.{module}\n"
        "from adversary.behavior import behavior_names\n"
        "print(' '.join(behavior_names()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    names = done.stdout.split()
    for name in ("collude", "equivocate", "lie", "mutate", "replay", "silent"):
        assert name in names


def test_defaults_apply_when_a_key_is_absent() -> None:
    assert param_bool("b", {}, "k", default=True) is True
    assert param_choice("b", {}, "k", ("x", "y"), default="y") == "y"
    assert param_int("b", {}, "k", default=3, minimum=1) == 3
    assert param_names("b", {}, "k", ("x", "y")) == ("x", "y")
    assert param_text("b", {}, "k", default="t") == "t"
    assert param_replica_groups("b", {}, "k", n=4) is None


def test_replica_groups_are_read_as_tuples_of_replica_ids() -> None:
    groups = param_replica_groups("b", {"k": [[1, 2], [3]]}, "k", n=4)
    assert groups == ((ReplicaId(1), ReplicaId(2)), (ReplicaId(3),))


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: param_bool("b", {"k": 1}, "k", default=True), "must be true or false"),
        (lambda: param_choice("b", {"k": 1}, "k", ("x",), default="x"), "must be one of 'x'"),
        (lambda: param_int("b", {"k": True}, "k", default=1, minimum=1), "integer >= 1"),
        (lambda: param_int("b", {"k": 0}, "k", default=1, minimum=1), "integer >= 1"),
        (lambda: param_names("b", {"k": ["z"]}, "k", ("x",)), "drawn from 'x'"),
        (lambda: param_text("b", {"k": b"x"}, "k", default=""), "must be a string"),
        (lambda: param_replica_groups("b", {"k": [[-1]]}, "k", n=4), "does not exist"),
    ],
)
def test_errors_name_the_behaviour_and_the_parameter(call: object, fragment: str) -> None:
    with pytest.raises(BehaviorParamError, match=f"behaviour 'b': parameter 'k' .*{fragment}"):
        call()  # type: ignore[operator]


def test_other_replicas_are_everyone_but_me_in_id_order() -> None:
    assert other_replicas(4, ReplicaId(2)) == [ReplicaId(0), ReplicaId(1), ReplicaId(3)]
