"""Slots and their certificates (OSDI '99 §4.2): pbft/replica/log.py."""

from __future__ import annotations

import pytest

from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import Commit, Prepare, PrePrepare, batch_digest, sign
from pbft.replica.log import Log
from tests.pbft.replica.harness import cluster_keys

DIGEST = batch_digest(())


def pre_prepare(n: int):  # type: ignore[no-untyped-def]
    signers, _ = cluster_keys(n)
    return sign(signers["r0"], PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=()))


def vote(n: int, kind: type, replica: int, digest: bytes = DIGEST):  # type: ignore[no-untyped-def]
    signers, _ = cluster_keys(n)
    payload = kind(view=View(0), seq=Seq(1), digest=digest, replica=ReplicaId(replica))
    return sign(signers[f"r{replica}"], payload)


@pytest.mark.parametrize("n", [4, 7, 10])
def test_prepared_needs_quorum_minus_one_matching_prepares(n: int) -> None:
    config = Config(n=n, f=(n - 1) // 3)
    slot = Log().slot(Seq(1), view=View(0), now_s=0.0)
    slot.pre_prepare = pre_prepare(n)
    for replica in range(1, config.quorum - 1):
        slot.prepares[ReplicaId(replica)] = vote(n, Prepare, replica)
    assert not slot.is_prepared(quorum=config.quorum)
    slot.prepares[ReplicaId(n - 1)] = vote(n, Prepare, n - 1, digest=b"\1" * 32)
    assert not slot.is_prepared(quorum=config.quorum)  # a prepare for another digest
    slot.prepares[ReplicaId(n - 1)] = vote(n, Prepare, n - 1)
    assert slot.is_prepared(quorum=config.quorum)
    certificate = slot.prepared_certificate(quorum=config.quorum)
    assert len(certificate.prepares) == config.quorum - 1


def test_committed_local_needs_prepared_and_a_quorum_of_commits() -> None:
    slot = Log().slot(Seq(1), view=View(0), now_s=0.0)
    for replica in range(4):
        slot.commits[ReplicaId(replica)] = vote(4, Commit, replica)
    assert not slot.is_committed_local(quorum=3)  # no pre-prepare: not prepared
    slot.pre_prepare = pre_prepare(4)
    slot.prepares[ReplicaId(1)] = vote(4, Prepare, 1)
    assert not slot.is_committed_local(quorum=3)
    slot.prepares[ReplicaId(2)] = vote(4, Prepare, 2)
    assert slot.is_committed_local(quorum=3)
    assert len(slot.commit_certificate(quorum=3).commits) == 3


def test_entering_a_new_view_keeps_certificates_and_drops_votes() -> None:
    log = Log()
    slot = log.slot(Seq(1), view=View(0), now_s=0.0)
    slot.pre_prepare = pre_prepare(4)
    slot.prepares[ReplicaId(1)] = vote(4, Prepare, 1)
    slot.prepares[ReplicaId(2)] = vote(4, Prepare, 2)
    slot.prepared = slot.prepared_certificate(quorum=3)
    same = log.slot(Seq(1), view=View(1), now_s=1.0)
    assert same is slot
    assert (slot.view, slot.pre_prepare, slot.prepares) == (1, None, {})
    assert slot.prepared is not None


def test_garbage_collection_drops_slots_at_or_below_the_checkpoint() -> None:
    log = Log()
    for seq in range(1, 6):
        log.slot(Seq(seq), view=View(0), now_s=0.0)
    assert log.collect_garbage(Seq(3)) == [1, 2, 3]
    assert log.seqs() == [4, 5]
