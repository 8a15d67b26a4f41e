"""Identifiers used throughout the protocol: views, sequence numbers, replicas and principals.

Views, sequence numbers and replica ids are distinct ``NewType``s so that mypy catches a
swapped ``view``/``seq``. The paper's ``n`` is both the cluster size and a sequence number;
here ``n`` is always the number of replicas and ``seq`` the sequence number.

Every signer on the wire is a *principal*, named by a string. Replica ``i`` is the principal
``"r<i>"``; clients are named by their client id (``"c0"``, ``"alice"`` ...), which may not look
like a replica name.
"""

from __future__ import annotations

import re
from typing import NewType

View = NewType("View", int)
Seq = NewType("Seq", int)
ReplicaId = NewType("ReplicaId", int)
ClientId = NewType("ClientId", str)
TimerName = NewType("TimerName", str)

Principal = str

_REPLICA_NAME = re.compile(r"r(0|[1-9][0-9]{0,4})")
_CLIENT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")

MAX_U64 = 2**64 - 1
MAX_REPLICAS = 2**16


def replica_principal(replica: ReplicaId) -> Principal:
    """The principal name replica ``replica`` signs as."""
    assert 0 <= replica < MAX_REPLICAS
    return f"r{replica}"


def replica_of(principal: Principal) -> ReplicaId | None:
    """The replica id behind a principal name, or None if it is not a replica's name."""
    match = _REPLICA_NAME.fullmatch(principal)
    if match is None:
        return None
    value = int(match.group(1))
    return ReplicaId(value) if value < MAX_REPLICAS else None


def is_valid_client_id(name: str) -> bool:
    """Client ids are short lowercase names that cannot be mistaken for a replica's."""
    return _CLIENT_NAME.fullmatch(name) is not None and replica_of(name) is None
