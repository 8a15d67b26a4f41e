"""Fakes for unit-testing behaviours: a scripted stand-in for the honest core, keys, messages.

A behaviour's unit test hands it a core that returns exactly the effects the test scripts, so
the test can say "given this honest effect list, the behaviour emits that one".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import attrs

import crypto
from adversary.behavior import BehaviorContext
from pbft.config import Config
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import ReplicaId, Seq, View
from pbft.inputs import Input
from pbft.messages import Envelope, Payload, PrePrepare, Request, batch_digest, sign, verify

CONFIG = Config(n=4, f=1)
CLIENTS = ("c0", "c1")
SIGNERS, KEYRING = crypto.cluster_keys(
    "fast", b"adversary-unit-tests", [*CONFIG.replica_principals, *CLIENTS]
)


@attrs.frozen
class FakeStatus:
    view: View


@attrs.define
class ScriptedCore:
    """Returns the queued effect lists in order, one per call; records every input."""

    script: list[list[Effect]] = attrs.field(factory=list)
    view: View = attrs.field(default=View(0))
    inputs: list[Input] = attrs.field(factory=list)

    def start(self, *, now_s: float) -> list[Effect]:
        return self.script.pop(0) if self.script else []

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        self.inputs.append(event)
        return self.script.pop(0) if self.script else []

    def status(self) -> FakeStatus:
        return FakeStatus(view=self.view)


@attrs.define
class Harness:
    ctx: BehaviorContext
    core: ScriptedCore
    tampered: list[tuple[str, str]]


def harness(
    replica: int,
    params: Mapping[str, Any] | None = None,
    *,
    collusion: dict[str, Any] | None = None,
    config: Config = CONFIG,
) -> Harness:
    core = ScriptedCore()
    tampered: list[tuple[str, str]] = []
    ctx = BehaviorContext(
        config=config,
        replica=ReplicaId(replica),
        signer=SIGNERS[f"r{replica}"],
        keyring=KEYRING,
        params=dict(params or {}),
        collusion=collusion if collusion is not None else {},
        make_honest=cast(Any, lambda: core),  # a fake stands in for pbft.replica.Replica
        report_tamper=lambda kind, how: tampered.append((kind, how)),
    )
    return Harness(ctx=ctx, core=core, tampered=tampered)


def signed(principal: str, payload: Payload) -> Envelope:
    return sign(SIGNERS[principal], payload)


def request(client: str = "c0", timestamp: int = 1, operation: bytes = b"op") -> Envelope:
    return signed(client, Request(client=client, timestamp=timestamp, operation=operation))


def pre_prepare(batch: tuple[Envelope, ...], *, view: int = 0, seq: int = 1) -> Envelope:
    payload = PrePrepare(view=View(view), seq=Seq(seq), digest=batch_digest(batch), batch=batch)
    return signed(f"r{view % CONFIG.n}", payload)


def sends_by_recipient(effects: list[Effect]) -> dict[str, list[Envelope]]:
    """Every Send grouped by recipient; fails the test on a Broadcast (must be split)."""
    out: dict[str, list[Envelope]] = {}
    for effect in effects:
        assert not isinstance(effect, Broadcast), effect
        if isinstance(effect, Send):
            out.setdefault(effect.to, []).append(effect.envelope)
    return out


def assert_validly_signed(envelope: Envelope, principal: str) -> None:
    assert envelope.sender == principal
    assert verify(KEYRING, envelope)
