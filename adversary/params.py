"""Parameter parsing and small helpers shared by the behaviour modules.

This module imports nothing from :mod:`adversary` at import time: adversary/behavior.py
imports every behaviour module at its bottom, so a helper that the behaviours share must not
start that cycle again from the middle (importing ``adversary.lies`` first would otherwise
find ``adversary.equivocation`` half-initialised).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pbft.ids import ReplicaId

# Every payload kind a replica sends, by class name (pbft/messages/types.py).
PAYLOAD_KINDS = (
    "PrePrepare",
    "Prepare",
    "Commit",
    "Reply",
    "Checkpoint",
    "ViewChange",
    "NewView",
    "CommitCertificate",
    "FetchState",
    "StateSnapshot",
    "Status",
)


def param_error(behavior: str, key: str, text: str) -> ValueError:
    """A :class:`adversary.behavior.BehaviorParamError` naming the behaviour and the key."""
    from adversary.behavior import BehaviorParamError  # deferred: see the module docstring

    return BehaviorParamError(f"behaviour {behavior!r}: parameter {key!r} {text}")


def param_bool(behavior: str, params: Mapping[str, Any], key: str, *, default: bool) -> bool:
    """A true/false parameter, or a :class:`BehaviorParamError` naming it."""
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise param_error(behavior, key, f"must be true or false, got {value!r}")
    return value


def param_choice(
    behavior: str, params: Mapping[str, Any], key: str, choices: Sequence[str], *, default: str
) -> str:
    """One of ``choices``, or a :class:`BehaviorParamError` listing them."""
    value = params.get(key, default)
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise param_error(behavior, key, f"must be one of {listed}, got {value!r}")
    return value


def param_replica_groups(
    behavior: str, params: Mapping[str, Any], key: str, *, n: int
) -> tuple[tuple[ReplicaId, ...], ...] | None:
    """A list of lists of replica ids, each id < n and in at most one group; None if absent."""
    if key not in params:
        return None
    value = params[key]

    def problem(text: str) -> ValueError:
        return param_error(behavior, key, text)

    if not isinstance(value, list | tuple) or not value:
        raise problem(f"must be a non-empty list of lists of replica ids, got {value!r}")
    seen: set[int] = set()
    groups: list[tuple[ReplicaId, ...]] = []
    for index, group in enumerate(value):
        if not isinstance(group, list | tuple):
            raise problem(f"must hold lists of replica ids; group {index} is {group!r}")
        for member in group:
            if isinstance(member, bool) or not isinstance(member, int):
                raise problem(f"names {member!r} in group {index}, which is not a replica id")
            if not 0 <= member < n:
                raise problem(
                    f"names replica {member} in group {index}, which does not exist (n = {n})"
                )
            if member in seen:
                raise problem(f"names replica {member} in two groups")
            seen.add(member)
        groups.append(tuple(ReplicaId(member) for member in group))
    return tuple(groups)


def other_replicas(n: int, me: ReplicaId) -> list[ReplicaId]:
    """Every replica but ``me``, in id order: the recipients of a Broadcast."""
    return [ReplicaId(i) for i in range(n) if i != me]


def param_int(
    behavior: str, params: Mapping[str, Any], key: str, *, default: int, minimum: int
) -> int:
    """An integer parameter >= ``minimum`` (booleans refused), or an error naming it."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise param_error(behavior, key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def param_names(
    behavior: str, params: Mapping[str, Any], key: str, choices: Sequence[str]
) -> tuple[str, ...]:
    """A non-empty list drawn from ``choices`` (default: all of them), or an error naming it."""
    value = params.get(key, list(choices))
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(item, str) and item in choices for item in value)
    ):
        listed = ", ".join(repr(choice) for choice in choices)
        raise param_error(
            behavior, key, f"must be a non-empty list drawn from {listed}, got {value!r}"
        )
    return tuple(value)


def param_text(behavior: str, params: Mapping[str, Any], key: str, *, default: str) -> str:
    value = params.get(key, default)
    if not isinstance(value, str):
        raise param_error(behavior, key, f"must be a string, got {value!r}")
    return value
