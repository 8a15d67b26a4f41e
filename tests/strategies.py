"""Hypothesis strategies that build every pbft message, for everyone's property tests.

Two flavours of every strategy:

* **cluster** (the default, ``wide=False``): messages of the test cluster (:data:`N` = 4
  replicas ``r0``..``r3``, f = 1, clients :data:`CLIENTS`). Every envelope, nested ones
  included, is validly signed by its natural sender (a replica message by its ``replica``,
  a request by its client, a pre-prepare and a new-view by the view's primary), numbers are
  mostly small, and certificates are coherent: a pre-prepare's digest is its batch digest,
  prepares and commits match their pre-prepare and come from distinct replicas, checkpoint
  proofs agree on one state. They are *not* guaranteed to be protocol-correct (a new-view's
  pre-prepares are not recomputed from its view changes), which is what a replica fuzz wants.
* **wide** (``wide=True``): anything the codec accepts: full integer ranges, any principal
  name, arbitrary byte strings and random (invalid) signatures.

Envelopes are signed with the "fast" keys of the test cluster (:data:`SIGNERS`, verified by
:data:`KEYRING`): cheap enough for thousands of examples. Where the real scheme matters, sign
with ``keys("ed25519")`` yourself; the codec and the protocol do not depend on the scheme.

    from tests.strategies import KEYRING, envelopes, prepares, signed
    @given(envelopes())                       # any message type, signed
    @given(signed(prepares()))                # one type, signed by its natural sender
    @given(PAYLOADS[Checkpoint](wide=True))   # every type, by class
    @given(forged(envelopes()))               # signed, then broken: verify is False
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import attrs
from hypothesis import strategies as st

import crypto
from pbft.ids import Principal, ReplicaId, Seq, View, replica_principal
from pbft.messages import (
    DIGEST_SIZE,
    MAX_REPLICA_ID,
    MAX_UINT63,
    PRINCIPAL_LENGTH_MAX,
    SIGNATURE_SIZE,
    Checkpoint,
    Commit,
    CommitCertificate,
    Envelope,
    FetchState,
    NewView,
    Payload,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Reply,
    Request,
    StateSnapshot,
    Status,
    ViewChange,
    batch_digest,
    sign,
)

N = 4
F = 1
QUORUM = 2 * F + 1
REPLICAS: tuple[Principal, ...] = tuple(replica_principal(ReplicaId(i)) for i in range(N))
CLIENTS: tuple[Principal, ...] = ("c0", "c1", "c2")
PRINCIPALS: tuple[Principal, ...] = REPLICAS + CLIENTS
CLUSTER_SEED = b"pbft tests/strategies.py"

St = st.SearchStrategy


@functools.cache
def keys(
    scheme: crypto.Scheme = "fast",
) -> tuple[dict[str, crypto.Signer], crypto.Keyring]:
    """Signers and the keyring of the test cluster (every replica and client)."""
    return crypto.cluster_keys(scheme, CLUSTER_SEED, PRINCIPALS)


SIGNERS, KEYRING = keys("fast")


def primary(view: int) -> Principal:
    """The principal of ``view``'s primary in the test cluster (OSDI '99 §4.1: v mod n)."""
    return replica_principal(ReplicaId(view % N))


# --- fields --------------------------------------------------------------------------------


def uint63s(*, wide: bool = False) -> St[int]:
    """Views, sequence numbers, timestamps: mostly small in the cluster flavour."""
    if wide:
        return st.integers(0, MAX_UINT63)
    return st.one_of(st.integers(0, 12), st.integers(0, 300), st.integers(0, MAX_UINT63))


def views(*, wide: bool = False) -> St[View]:
    return uint63s(wide=wide).map(View)


def seqs(*, wide: bool = False) -> St[Seq]:
    return uint63s(wide=wide).map(Seq)


def replica_ids(*, wide: bool = False) -> St[ReplicaId]:
    return st.integers(0, MAX_REPLICA_ID if wide else N - 1).map(ReplicaId)


def principal_names() -> St[Principal]:
    """Any name the codec accepts: 1 to 64 printable ASCII characters, no space."""
    alphabet = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
    return st.text(alphabet, min_size=1, max_size=PRINCIPAL_LENGTH_MAX)


def clients(*, wide: bool = False) -> St[Principal]:
    return principal_names() if wide else st.sampled_from(CLIENTS)


def digests() -> St[bytes]:
    return st.binary(min_size=DIGEST_SIZE, max_size=DIGEST_SIZE)


def signatures() -> St[bytes]:
    return st.binary(min_size=SIGNATURE_SIZE, max_size=SIGNATURE_SIZE)


def blobs() -> St[bytes]:
    """Operations, results, snapshots: short, since their size only matters to the frame cap."""
    return st.binary(max_size=48)


def _members(strategy: St[Envelope], *, max_size: int) -> St[tuple[Envelope, ...]]:
    return st.lists(strategy, max_size=max_size).map(tuple)


# --- envelopes -----------------------------------------------------------------------------


def natural_sender(payload: Payload) -> Principal | None:
    """Who signs ``payload`` in a correct run, or None for a certificate (anyone may)."""
    match payload:
        case Request(client=client):
            return client
        case PrePrepare(view=view) | NewView(view=view):
            return primary(view)
        case Prepare(replica=r) | Commit(replica=r) | Reply(replica=r) | Checkpoint(replica=r):
            return replica_principal(r)
        case ViewChange(replica=r) | FetchState(replica=r) | StateSnapshot(replica=r):
            return replica_principal(r)
        case Status(replica=r):
            return replica_principal(r)
        case PreparedCertificate() | CommitCertificate():
            return None


def signed(payloads: St[Payload], *, wide: bool = False) -> St[Envelope]:
    """Envelopes of ``payloads``: cluster flavour signed by the natural sender (or a random
    replica for a certificate); wide flavour with any sender and a random signature."""
    if wide:
        return st.builds(
            Envelope, sender=principal_names(), payload=payloads, signature=signatures()
        )

    @st.composite
    def build(draw: st.DrawFn) -> Envelope:
        payload = draw(payloads)
        sender = natural_sender(payload) or draw(st.sampled_from(REPLICAS))
        if sender not in SIGNERS:  # a wide payload in the cluster flavour: cannot sign
            return Envelope(sender=sender, payload=payload, signature=draw(signatures()))
        return sign(SIGNERS[sender], payload)

    return build()


def forged(envelopes: St[Envelope]) -> St[Envelope]:
    """Cluster envelopes made unverifiable: a flipped signature bit, or another sender."""

    @st.composite
    def build(draw: st.DrawFn) -> Envelope:
        envelope = draw(envelopes)
        if draw(st.booleans()):
            others = [p for p in PRINCIPALS if p != envelope.sender]
            return attrs.evolve(envelope, sender=draw(st.sampled_from(others)))
        position = draw(st.integers(0, SIGNATURE_SIZE - 1))
        bit = 1 << draw(st.integers(0, 7))
        signature = bytearray(envelope.signature)
        signature[position] ^= bit
        return attrs.evolve(envelope, signature=bytes(signature))

    return build()


# --- payloads ------------------------------------------------------------------------------


def requests(*, wide: bool = False) -> St[Request]:
    return st.builds(
        Request, client=clients(wide=wide), timestamp=uint63s(wide=wide), operation=blobs()
    )


def request_batches(*, wide: bool = False, max_size: int = 3) -> St[tuple[Envelope, ...]]:
    return _members(signed(requests(wide=wide), wide=wide), max_size=max_size)


@st.composite
def pre_prepares(
    draw: st.DrawFn, *, wide: bool = False, view: View | None = None, seq: Seq | None = None
) -> PrePrepare:
    """A pre-prepare; in the cluster flavour its digest is the digest of its batch."""
    batch = draw(request_batches(wide=wide))
    digest = draw(digests()) if wide else batch_digest(batch)
    return PrePrepare(
        view=draw(views(wide=wide)) if view is None else view,
        seq=draw(seqs(wide=wide)) if seq is None else seq,
        digest=digest,
        batch=batch,
    )


def prepares(*, wide: bool = False) -> St[Prepare]:
    return st.builds(
        Prepare,
        view=views(wide=wide),
        seq=seqs(wide=wide),
        digest=digests(),
        replica=replica_ids(wide=wide),
    )


def commits(*, wide: bool = False) -> St[Commit]:
    return st.builds(
        Commit,
        view=views(wide=wide),
        seq=seqs(wide=wide),
        digest=digests(),
        replica=replica_ids(wide=wide),
    )


def replies(*, wide: bool = False) -> St[Reply]:
    return st.builds(
        Reply,
        view=views(wide=wide),
        timestamp=uint63s(wide=wide),
        client=clients(wide=wide),
        replica=replica_ids(wide=wide),
        result=blobs(),
    )


def checkpoints(*, wide: bool = False) -> St[Checkpoint]:
    return st.builds(
        Checkpoint, seq=seqs(wide=wide), state_digest=digests(), replica=replica_ids(wide=wide)
    )


def _distinct_replicas(draw: st.DrawFn, *, exclude: int | None, min_size: int) -> list[int]:
    pool = [i for i in range(N) if i != exclude]
    return draw(st.lists(st.sampled_from(pool), unique=True, min_size=min_size))


@st.composite
def checkpoint_proofs(
    draw: st.DrawFn, *, wide: bool = False, seq: Seq | None = None
) -> tuple[Envelope, ...]:
    """Checkpoint envelopes proving one state at ``seq``; a quorum or fewer in the cluster."""
    if wide:
        return draw(_members(signed(checkpoints(wide=True), wide=True), max_size=3))
    at = draw(seqs()) if seq is None else seq
    state = draw(digests())
    senders = _distinct_replicas(draw, exclude=None, min_size=0)
    return tuple(
        sign(
            SIGNERS[replica_principal(ReplicaId(i))],
            Checkpoint(seq=at, state_digest=state, replica=ReplicaId(i)),
        )
        for i in senders[:QUORUM]
    )


@st.composite
def prepared_certificates(
    draw: st.DrawFn, *, wide: bool = False, view: View | None = None
) -> PreparedCertificate:
    """A pre-prepare with prepares; in the cluster flavour the prepares match it and come
    from distinct backups (2f of them or fewer)."""
    if wide:
        return PreparedCertificate(
            pre_prepare=draw(signed(pre_prepares(wide=True), wide=True)),
            prepares=draw(_members(signed(prepares(wide=True), wide=True), max_size=3)),
        )
    at_view = draw(views()) if view is None else view
    pre_prepare = draw(pre_prepares(view=at_view))
    backups = _distinct_replicas(draw, exclude=at_view % N, min_size=0)[: 2 * F]
    prepare_envelopes = tuple(
        sign(
            SIGNERS[replica_principal(ReplicaId(i))],
            Prepare(
                view=pre_prepare.view,
                seq=pre_prepare.seq,
                digest=pre_prepare.digest,
                replica=ReplicaId(i),
            ),
        )
        for i in backups
    )
    return PreparedCertificate(
        pre_prepare=sign(SIGNERS[primary(at_view)], pre_prepare), prepares=prepare_envelopes
    )


@st.composite
def view_changes(
    draw: st.DrawFn, *, wide: bool = False, new_view: View | None = None
) -> ViewChange:
    """A view change; in the cluster flavour its proof is for its stable_seq and its
    certificates are from views below new_view."""
    if wide:
        return ViewChange(
            new_view=draw(views(wide=True)),
            stable_seq=draw(seqs(wide=True)),
            checkpoint_proof=draw(checkpoint_proofs(wide=True)),
            prepared=tuple(draw(st.lists(prepared_certificates(wide=True), max_size=2))),
            replica=draw(replica_ids(wide=True)),
        )
    target = draw(st.integers(1, 12).map(View)) if new_view is None else new_view
    stable_seq = draw(seqs())
    proof = draw(checkpoint_proofs(seq=stable_seq)) if stable_seq > 0 else ()
    older_views = st.integers(0, max(target - 1, 0)).map(View)
    certificates = draw(
        st.lists(older_views.flatmap(lambda v: prepared_certificates(view=v)), max_size=2)
    )
    return ViewChange(
        new_view=target,
        stable_seq=stable_seq,
        checkpoint_proof=proof,
        prepared=tuple(certificates),
        replica=draw(replica_ids()),
    )


@st.composite
def new_views(draw: st.DrawFn, *, wide: bool = False) -> NewView:
    """A new-view; in the cluster flavour its view changes and pre-prepares are for its view,
    from distinct replicas, signed by the new primary where the paper says so."""
    if wide:
        return NewView(
            view=draw(views(wide=True)),
            view_changes=draw(_members(signed(view_changes(wide=True), wide=True), max_size=2)),
            pre_prepares=draw(_members(signed(pre_prepares(wide=True), wide=True), max_size=2)),
        )
    view = draw(st.integers(1, 12).map(View))
    senders = _distinct_replicas(draw, exclude=None, min_size=0)[:QUORUM]
    changes = []
    for i in senders:
        change = draw(view_changes(new_view=view))
        change = ViewChange(
            new_view=change.new_view,
            stable_seq=change.stable_seq,
            checkpoint_proof=change.checkpoint_proof,
            prepared=change.prepared,
            replica=ReplicaId(i),
        )
        changes.append(sign(SIGNERS[replica_principal(ReplicaId(i))], change))
    pre_prepare_list = draw(st.lists(pre_prepares(view=view), max_size=2))
    return NewView(
        view=view,
        view_changes=tuple(changes),
        pre_prepares=tuple(sign(SIGNERS[primary(view)], p) for p in pre_prepare_list),
    )


@st.composite
def commit_certificates(draw: st.DrawFn, *, wide: bool = False) -> CommitCertificate:
    """A pre-prepare with commits; in the cluster flavour the commits match it and come from
    distinct replicas (a quorum or fewer)."""
    if wide:
        return CommitCertificate(
            pre_prepare=draw(signed(pre_prepares(wide=True), wide=True)),
            commits=draw(_members(signed(commits(wide=True), wide=True), max_size=3)),
        )
    pre_prepare = draw(pre_prepares())
    senders = _distinct_replicas(draw, exclude=None, min_size=0)[:QUORUM]
    commit_envelopes = tuple(
        sign(
            SIGNERS[replica_principal(ReplicaId(i))],
            Commit(
                view=pre_prepare.view,
                seq=pre_prepare.seq,
                digest=pre_prepare.digest,
                replica=ReplicaId(i),
            ),
        )
        for i in senders
    )
    return CommitCertificate(
        pre_prepare=sign(SIGNERS[primary(pre_prepare.view)], pre_prepare),
        commits=commit_envelopes,
    )


def fetch_states(*, wide: bool = False) -> St[FetchState]:
    return st.builds(FetchState, above_seq=seqs(wide=wide), replica=replica_ids(wide=wide))


@st.composite
def state_snapshots(draw: st.DrawFn, *, wide: bool = False) -> StateSnapshot:
    seq = draw(seqs(wide=wide))
    return StateSnapshot(
        seq=seq,
        snapshot=draw(blobs()),
        checkpoint_proof=draw(checkpoint_proofs(wide=wide, seq=seq)),
        replica=draw(replica_ids(wide=wide)),
    )


def statuses(*, wide: bool = False) -> St[Status]:
    return st.builds(
        Status,
        view=views(wide=wide),
        stable_seq=seqs(wide=wide),
        last_executed=seqs(wide=wide),
        replica=replica_ids(wide=wide),
    )


PAYLOADS: dict[type, Callable[..., St[Payload]]] = {
    Request: requests,
    PrePrepare: pre_prepares,
    Prepare: prepares,
    Commit: commits,
    Reply: replies,
    Checkpoint: checkpoints,
    PreparedCertificate: prepared_certificates,
    ViewChange: view_changes,
    NewView: new_views,
    CommitCertificate: commit_certificates,
    FetchState: fetch_states,
    StateSnapshot: state_snapshots,
    Status: statuses,
}
"""Every payload class and the strategy that builds it (each takes ``wide=``)."""


def payloads(*, wide: bool = False) -> St[Payload]:
    """Any payload type."""
    return st.one_of([build(wide=wide) for build in PAYLOADS.values()])


def envelopes(*, wide: bool = False) -> St[Envelope]:
    """A signed envelope of any payload type (see :func:`signed`)."""
    return signed(payloads(wide=wide), wide=wide)
