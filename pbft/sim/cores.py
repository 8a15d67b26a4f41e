"""What the simulator drives, and where it gets it from.

The simulator only needs cores that take inputs and return effects. :class:`Cores` gathers
every constructor it calls (keys, services, replicas, recovered replicas, clients, workload
operations, Byzantine behaviours) so that tests can drive the simulator with small fakes, and
:class:`RealCores` wires in the real implementations (imported lazily: the simulator module
itself depends on none of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pbft.config import Config
from pbft.effects import Effect
from pbft.ids import ReplicaId
from pbft.inputs import Input, Received, TimerFired

if TYPE_CHECKING:
    from adversary.behavior import BehaviorContext


class ReplicaCore(Protocol):
    """A replica as the simulator sees it: honest (:class:`pbft.replica.Replica`) or not."""

    def start(self, *, now_s: float) -> list[Effect]: ...

    def step(self, event: Received | TimerFired, *, now_s: float) -> list[Effect]: ...


class ClientCore(Protocol):
    """A client as the simulator sees it (:class:`pbft.client.Client`)."""

    def step(self, event: Input, *, now_s: float) -> list[Effect]: ...


class Cores(Protocol):
    """Every constructor the simulator calls; see :class:`RealCores`."""

    def keys(
        self, scheme: str, cluster_seed: bytes, principals: Iterable[str]
    ) -> tuple[Mapping[str, Any], Any]: ...

    def service(self, app: str) -> Any: ...

    def replica(
        self, *, config: Config, replica: ReplicaId, signer: Any, keyring: Any, service: Any
    ) -> ReplicaCore: ...

    def recover(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: Any,
        keyring: Any,
        service: Any,
        stored: Mapping[str, bytes],
    ) -> ReplicaCore: ...

    def client(self, *, config: Config, client: str, signer: Any, keyring: Any) -> ClientCore: ...

    def operation(self, app: str, kind: str, key_index: int, value: bytes) -> bytes: ...

    def behavior(self, name: str, ctx: BehaviorContext) -> ReplicaCore: ...


class RealCores:
    """The project's own crypto, services, replica, client and adversary."""

    def keys(
        self, scheme: str, cluster_seed: bytes, principals: Iterable[str]
    ) -> tuple[Mapping[str, Any], Any]:
        import crypto

        signers, keyring = crypto.cluster_keys(scheme, cluster_seed, principals)  # type: ignore[arg-type]  # scheme validated by the scenario
        return signers, keyring

    def service(self, app: str) -> Any:
        from pbft.app import make_service

        return make_service(app)

    def replica(
        self, *, config: Config, replica: ReplicaId, signer: Any, keyring: Any, service: Any
    ) -> ReplicaCore:
        from pbft.replica import Replica

        return Replica(
            config=config, replica=replica, signer=signer, keyring=keyring, service=service
        )

    def recover(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: Any,
        keyring: Any,
        service: Any,
        stored: Mapping[str, bytes],
    ) -> ReplicaCore:
        from pbft.replica import Replica

        return Replica.recover(
            config=config,
            replica=replica,
            signer=signer,
            keyring=keyring,
            service=service,
            stored=stored,
        )

    def client(self, *, config: Config, client: str, signer: Any, keyring: Any) -> ClientCore:
        from pbft.client import Client

        return Client(config=config, client=client, signer=signer, keyring=keyring)

    def operation(self, app: str, kind: str, key_index: int, value: bytes) -> bytes:
        from pbft.app.workload import operation_for

        return operation_for(app, kind, key_index, value)

    def behavior(self, name: str, ctx: BehaviorContext) -> ReplicaCore:
        from adversary.behavior import make_behavior

        return make_behavior(name, ctx)
