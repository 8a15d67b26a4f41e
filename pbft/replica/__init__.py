"""The PBFT replica core: a pure state machine from inputs to effects (see docs/protocol.md)."""

from pbft.replica.replica import Replica
from pbft.replica.status import ReplicaStatus

__all__ = ["Replica", "ReplicaStatus"]
