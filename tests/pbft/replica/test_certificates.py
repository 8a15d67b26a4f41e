"""Certificates checked member by member: pbft/replica/certificates.py."""

from __future__ import annotations

import attrs

from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    Checkpoint,
    Commit,
    CommitCertificate,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    batch_digest,
    sign,
)
from pbft.replica.certificates import (
    check_checkpoint_proof,
    check_commit_certificate,
    check_prepared_certificate,
)
from pbft.replica.verifier import Verifier
from tests.pbft.replica.harness import cluster_keys

CONFIG = Config.for_f(1, checkpoint_interval=4, window_size=8)
SIGNERS, KEYRING = cluster_keys(4)


def verifier() -> Verifier:
    return Verifier(config=CONFIG, keyring=KEYRING)


def checkpoint(replica: int, seq: int = 4, digest: bytes = b"\1" * 32):  # type: ignore[no-untyped-def]
    payload = Checkpoint(seq=Seq(seq), state_digest=digest, replica=ReplicaId(replica))
    return sign(SIGNERS[f"r{replica}"], payload)


def test_checkpoint_proof_needs_a_quorum_of_matching_distinct_votes() -> None:
    good = (checkpoint(0), checkpoint(1), checkpoint(2))
    assert (
        check_checkpoint_proof(good, seq=Seq(4), config=CONFIG, verifier=verifier()) == b"\1" * 32
    )
    problems = [
        good[:2],  # too few
        (checkpoint(0), checkpoint(0), checkpoint(1)),  # duplicate replica
        (checkpoint(0), checkpoint(1), checkpoint(2, digest=b"\2" * 32)),  # disagree
        (checkpoint(0), checkpoint(1), checkpoint(2, seq=8)),  # other seq
        (checkpoint(0), checkpoint(1), attrs.evolve(checkpoint(2), signature=bytes(64))),
        (checkpoint(0), checkpoint(1), attrs.evolve(checkpoint(2), sender="r3")),
    ]
    for proof in problems:
        result = check_checkpoint_proof(proof, seq=Seq(4), config=CONFIG, verifier=verifier())
        assert isinstance(result, str), proof
    assert isinstance(
        check_checkpoint_proof(good, seq=Seq(3), config=CONFIG, verifier=verifier()), str
    )


def test_commit_certificate_needs_the_primary_pre_prepare_and_a_quorum_of_commits() -> None:
    pp = PrePrepare(view=View(1), seq=Seq(2), digest=batch_digest(()), batch=())
    commits = tuple(
        sign(
            SIGNERS[f"r{r}"],
            Commit(view=View(1), seq=Seq(2), digest=pp.digest, replica=ReplicaId(r)),
        )
        for r in (0, 2, 3)
    )
    good = CommitCertificate(pre_prepare=sign(SIGNERS["r1"], pp), commits=commits)
    assert check_commit_certificate(good, config=CONFIG, verifier=verifier()) == pp
    not_primary = attrs.evolve(good, pre_prepare=sign(SIGNERS["r2"], pp))
    too_few = attrs.evolve(good, commits=commits[:2])
    other_view = attrs.evolve(
        good,
        pre_prepare=sign(SIGNERS["r2"], attrs.evolve(pp, view=View(2))),
    )
    wrong_digest = attrs.evolve(
        good, pre_prepare=sign(SIGNERS["r1"], attrs.evolve(pp, digest=bytes(32)))
    )
    for certificate in (not_primary, too_few, other_view, wrong_digest):
        assert isinstance(
            check_commit_certificate(certificate, config=CONFIG, verifier=verifier()), str
        )


def test_certificate_whose_batch_holds_a_request_signed_by_another_client_is_invalid() -> None:
    """Only more than f faulty replicas could assemble it; it must not reach execution."""
    from pbft.messages import Request

    stolen = sign(SIGNERS["c1"], Request(client="c0", timestamp=1, operation=b"x"))
    pp = PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest((stolen,)), batch=(stolen,))
    commits = tuple(
        sign(
            SIGNERS[f"r{r}"],
            Commit(view=View(0), seq=Seq(1), digest=pp.digest, replica=ReplicaId(r)),
        )
        for r in (1, 2, 3)
    )
    certificate = CommitCertificate(pre_prepare=sign(SIGNERS["r0"], pp), commits=commits)
    result = check_commit_certificate(certificate, config=CONFIG, verifier=verifier())
    assert result == "a batch member is not a request signed by its client"


def _prepare(replica: int, pp: PrePrepare, *, digest: bytes | None = None):  # type: ignore[no-untyped-def]
    payload = Prepare(
        view=pp.view,
        seq=pp.seq,
        digest=pp.digest if digest is None else digest,
        replica=ReplicaId(replica),
    )
    return sign(SIGNERS[f"r{replica}"], payload)


def test_prepared_certificate_needs_2f_prepares_from_distinct_backups_never_the_primary() -> None:
    """§4.2/§4.4: prepared = the primary's pre-prepare plus 2f matching backup prepares."""
    pp = PrePrepare(view=View(1), seq=Seq(2), digest=batch_digest(()), batch=())
    signed_pp = sign(SIGNERS["r1"], pp)  # r1 is the primary of view 1
    good = PreparedCertificate(pre_prepare=signed_pp, prepares=(_prepare(2, pp), _prepare(3, pp)))

    def check(certificate: PreparedCertificate, *, below: int = 2, low: int = 0) -> object:
        return check_prepared_certificate(
            certificate, below_view=View(below), low=Seq(low), config=CONFIG, verifier=verifier()
        )

    assert check(good) == pp
    problems = {
        "primary's prepare counted": (_prepare(1, pp), _prepare(2, pp)),
        "duplicate backup": (_prepare(2, pp), _prepare(2, pp)),
        "too few": (_prepare(2, pp),),
        "other digest": (_prepare(2, pp), _prepare(3, pp, digest=bytes(32))),
        "a commit in place of a prepare": (
            _prepare(2, pp),
            sign(
                SIGNERS["r3"],
                Commit(view=pp.view, seq=pp.seq, digest=pp.digest, replica=ReplicaId(3)),
            ),
        ),
    }
    for name, prepares in problems.items():
        assert isinstance(check(attrs.evolve(good, prepares=prepares)), str), name
    assert isinstance(check(good, below=1), str)  # not from a view below the new one
    assert isinstance(check(good, low=2), str)  # at or below the stable checkpoint
    far = attrs.evolve(pp, seq=Seq(CONFIG.window_size + 1))
    beyond = PreparedCertificate(
        pre_prepare=sign(SIGNERS["r1"], far), prepares=(_prepare(2, far), _prepare(3, far))
    )
    assert check(beyond, low=1) == far  # inside (1, 1 + L]
    assert isinstance(check(beyond), str)  # above the window: (0, L]
