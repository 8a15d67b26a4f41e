"""The shared message strategies keep the promises other tests rely on."""

from __future__ import annotations

from hypothesis import find, given
from hypothesis import strategies as st

from pbft.ids import replica_of
from pbft.messages import (
    CommitCertificate,
    Envelope,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    batch_digest,
    decode,
    encode,
    verify,
)
from tests.strategies import (
    KEYRING,
    PAYLOADS,
    QUORUM,
    N,
    checkpoint_proofs,
    commit_certificates,
    envelopes,
    forged,
    natural_sender,
    new_views,
    pre_prepares,
    prepared_certificates,
    prepares,
    primary,
    signed,
    view_changes,
)


def replicas_of(members: tuple[Envelope, ...]) -> list[int | None]:
    return [replica_of(member.sender) for member in members]


@given(envelopes())
def test_cluster_envelopes_are_signed_by_their_natural_sender(envelope: Envelope) -> None:
    expected = natural_sender(envelope.payload)
    if expected is not None:
        assert envelope.sender == expected
    assert verify(KEYRING, envelope)


@given(forged(envelopes()))
def test_forged_envelopes_never_verify_but_still_encode(envelope: Envelope) -> None:
    assert not verify(KEYRING, envelope)
    assert decode(encode(envelope)) == envelope


@given(pre_prepares())
def test_a_cluster_pre_prepare_carries_its_batch_digest(pre_prepare: PrePrepare) -> None:
    assert pre_prepare.digest == batch_digest(pre_prepare.batch)


@given(prepared_certificates())
def test_prepared_certificate_prepares_match_and_come_from_distinct_backups(
    certificate: PreparedCertificate,
) -> None:
    pre_prepare = certificate.pre_prepare.payload
    assert isinstance(pre_prepare, PrePrepare)
    assert certificate.pre_prepare.sender == primary(pre_prepare.view)
    senders = replicas_of(certificate.prepares)
    assert len(set(senders)) == len(senders) <= QUORUM - 1
    assert pre_prepare.view % N not in senders
    for member in certificate.prepares:
        prepare = member.payload
        assert (prepare.view, prepare.seq, prepare.digest) == (  # type: ignore[union-attr]
            pre_prepare.view,
            pre_prepare.seq,
            pre_prepare.digest,
        )


@given(commit_certificates())
def test_commit_certificate_commits_match_and_come_from_distinct_replicas(
    certificate: CommitCertificate,
) -> None:
    pre_prepare = certificate.pre_prepare.payload
    assert isinstance(pre_prepare, PrePrepare)
    senders = replicas_of(certificate.commits)
    assert len(set(senders)) == len(senders) <= QUORUM
    for member in certificate.commits:
        commit = member.payload
        assert commit.digest == pre_prepare.digest  # type: ignore[union-attr]
        assert commit.seq == pre_prepare.seq  # type: ignore[union-attr]


@given(checkpoint_proofs())
def test_checkpoint_proof_members_agree_on_one_state(proof: tuple[Envelope, ...]) -> None:
    states = {(member.payload.seq, member.payload.state_digest) for member in proof}  # type: ignore[union-attr]
    assert len(states) <= 1
    assert len(set(replicas_of(proof))) == len(proof) <= QUORUM


@given(view_changes())
def test_view_change_certificates_come_from_earlier_views(change: ViewChange) -> None:
    for certificate in change.prepared:
        assert certificate.pre_prepare.payload.view < change.new_view  # type: ignore[union-attr]
    for member in change.checkpoint_proof:
        assert member.payload.seq == change.stable_seq  # type: ignore[union-attr]


@given(new_views())
def test_new_view_members_are_for_its_view(new_view: NewView) -> None:
    senders = replicas_of(new_view.view_changes)
    assert len(set(senders)) == len(senders) <= QUORUM
    for member in new_view.view_changes:
        assert member.payload.new_view == new_view.view  # type: ignore[union-attr]
    for member in new_view.pre_prepares:
        assert member.payload.view == new_view.view  # type: ignore[union-attr]
        assert member.sender == primary(new_view.view)


def test_wide_flavour_reaches_beyond_the_cluster() -> None:
    assert find(prepares(wide=True), lambda p: p.replica >= N).replica >= N
    wide = find(signed(PAYLOADS[PrePrepare](wide=True), wide=True), lambda e: e.sender != "r0")
    assert not verify(KEYRING, wide)


@given(st.sampled_from(list(PAYLOADS)), st.data())
def test_every_strategy_builds_its_own_class(cls: type, data: st.DataObject) -> None:
    assert type(data.draw(PAYLOADS[cls]())) is cls
    assert type(data.draw(PAYLOADS[cls](wide=True))) is cls
