"""What is stored for crash recovery, and reading it back: pbft/replica/persistence.py."""

from __future__ import annotations

import pytest

from pbft.ids import ReplicaId, Seq, View
from pbft.messages import Prepare, PrePrepare, batch_digest, sign
from pbft.replica import persistence
from pbft.replica.log import Log
from tests.pbft.replica.harness import cluster_keys


def test_slot_round_trips_through_storage() -> None:
    signers, _ = cluster_keys(4)
    slot = Log().slot(Seq(7), view=View(2), now_s=0.0)
    pp = PrePrepare(view=View(2), seq=Seq(7), digest=batch_digest(()), batch=())
    slot.pre_prepare = sign(signers["r2"], pp)
    for r in (0, 1):
        prepare = Prepare(view=View(2), seq=Seq(7), digest=pp.digest, replica=ReplicaId(r))
        slot.prepares[ReplicaId(r)] = sign(signers[f"r{r}"], prepare)
    slot.prepared = slot.prepared_certificate(quorum=3)
    encoder = persistence.Encoder()
    stored = {
        persistence.slot_key(Seq(7)): encoder.slot(slot),
        persistence.VIEW_KEY: persistence.encode_view(View(2), active=True),
    }
    state = persistence.load(stored)
    assert (state.view, state.active) == (2, True)
    (loaded,) = state.slots
    assert (loaded.seq, loaded.view) == (7, 2)
    assert loaded.pre_prepare == slot.pre_prepare
    assert loaded.prepared == slot.prepared
    assert loaded.committed is None


def test_empty_store_is_a_fresh_replica() -> None:
    state = persistence.load({})
    assert (state.view, state.active, state.checkpoint, state.slots) == (0, True, None, ())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("view", b"\x82\x01"),
        ("view", b"\x82\x01\x01"),
        ("checkpoint", b"\x83\x01\x41\x00\x81\x41\x00"),
        ("slot/00000000000000000001", b"\x84\x00\xf6\xf6\x01"),
        ("slot/x", b"\x84\x00\xf6\xf6\xf6"),
        ("new-view", b"\x00"),
    ],
)
def test_malformed_storage_raises_a_clear_error(key: str, value: bytes) -> None:
    with pytest.raises(persistence.StoredStateError, match=key.split("/")[0]):
        persistence.load({key: value})
