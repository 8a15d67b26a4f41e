"""Signature checks and their cache: pbft/replica/verifier.py."""

from __future__ import annotations

import attrs

from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import Prepare, Request, sign
from pbft.replica.verifier import Verifier
from tests.pbft.replica.harness import cluster_keys


def test_cached_signature_does_not_vouch_for_another_payload() -> None:
    signers, keyring = cluster_keys(4)
    verifier = Verifier(config=Config.for_f(1), keyring=keyring)
    envelope = sign(signers["c0"], Request(client="c0", timestamp=1, operation=b"a"))
    assert verifier.is_valid(envelope)
    forged = attrs.evolve(envelope, payload=Request(client="c0", timestamp=1, operation=b"b"))
    assert not verifier.is_valid(forged)
    assert verifier.is_valid(attrs.evolve(envelope))  # an equal copy rides on the cache


def test_cache_is_bounded() -> None:
    signers, keyring = cluster_keys(4)
    verifier = Verifier(config=Config.for_f(1), keyring=keyring, capacity=2)
    envelopes = [
        sign(
            signers["r1"], Prepare(view=View(0), seq=Seq(s), digest=bytes(32), replica=ReplicaId(1))
        )
        for s in range(5)
    ]
    for envelope in envelopes:
        assert verifier.is_valid(envelope)
    assert len(verifier._verified) == 2
    assert all(verifier.is_valid(e) for e in envelopes)


def test_senders_outside_the_cluster_are_not_replicas() -> None:
    signers, keyring = cluster_keys(7)  # r4..r6 have keys, but the cluster has 4 replicas
    verifier = Verifier(config=Config.for_f(1), keyring=keyring)
    prepare = Prepare(view=View(0), seq=Seq(1), digest=bytes(32), replica=ReplicaId(5))
    assert verifier.replica_sender(sign(signers["r5"], prepare)) is None
    assert verifier.replica_sender(sign(signers["r3"], prepare)) == 3
    assert verifier.is_client("c0")
    assert not verifier.is_client("r0")
    assert not verifier.is_client("zed")  # well-formed but unknown
