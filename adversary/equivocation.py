"""Equivocation: a faulty primary tells different backups different things (OSDI '99 §4.2).

PBFT's safety rests on quorum intersection: a slot is prepared only with the pre-prepare plus
2f matching prepares, and committed only with 2f + 1 matching commits, so two versions of one
(view, seq) can never both gather a quorum while at most f replicas lie. This module is the
attack that argument defends against.

``equivocate`` wraps an honest core. When the core, as primary, broadcasts a PRE-PREPARE, the
behaviour sends the honest version to some backups and a different batch (another order, a
subset or the null batch, always of validly client-signed requests) under the same (view, seq)
to the groups named in ``split``. It writes what every replica was told on the run's collusion
blackboard. Every faulty replica running ``equivocate`` or ``collude`` reads that blackboard and
sends each replica the PREPARE and COMMIT matching the digest *that* replica was given, so each
honest replica sees a consistent story. With f faulty replicas the honest ones stay safe; with
f + 1 (``unsafe = true``) two honest replicas commit different batches at one seq.

Everything is signed with the faulty replica's own key; it never holds anyone else's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from adversary.behavior import BehaviorContext, check_params, register
from adversary.params import other_replicas, param_bool, param_choice, param_replica_groups
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import ReplicaId, Seq, View, replica_of, replica_principal
from pbft.inputs import Input, Received, TimerFired
from pbft.messages import (
    Commit,
    CommitCertificate,
    Envelope,
    Prepare,
    PrePrepare,
    Request,
    batch_digest,
    sign,
    verify,
)

BOARD_KEY = "equivocation"
ALTERNATIVES = ("null", "reverse", "subset", "stale")


@attrs.define(kw_only=True)
class SlotPlan:
    """What one equivocating primary told each replica about one (view, seq)."""

    primary: ReplicaId
    view: View
    seq: Seq
    honest_digest: bytes
    digests: dict[ReplicaId, bytes]  # replicas given an alternative; the rest got honest_digest
    pre_prepares: dict[bytes, Envelope]  # digest -> the signed PRE-PREPARE carrying it

    def digest_for(self, replica: ReplicaId) -> bytes:
        return self.digests.get(replica, self.honest_digest)


class Board:
    """The equivocation page of the collusion blackboard, shared by all faulty replicas.

    Plans are kept in publication order so that a colluder can read only what is new since it
    last looked (a cursor), instead of rescanning every slot of the run on every step.
    """

    def __init__(self) -> None:
        self._plans: dict[tuple[int, int], SlotPlan] = {}
        self._published: list[SlotPlan] = []

    @classmethod
    def shared(cls, collusion: dict[str, Any]) -> Board:
        """The run's one board, created on first use."""
        board = collusion.setdefault(BOARD_KEY, cls())
        assert isinstance(board, Board), f"collusion[{BOARD_KEY!r}] holds {board!r}"
        return board

    def publish(self, plan: SlotPlan) -> None:
        self._plans[(plan.view, plan.seq)] = plan
        self._published.append(plan)

    def plan(self, *, view: View, seq: Seq) -> SlotPlan | None:
        return self._plans.get((view, seq))

    def published_since(self, cursor: int) -> tuple[list[SlotPlan], int]:
        """Plans published after the first ``cursor`` ones, and the new cursor."""
        return self._published[cursor:], len(self._published)


# --- what the primary can say instead ------------------------------------------------------


def alternative_batches(
    batch: tuple[Envelope, ...],
    *,
    prefer: str,
    seen_requests: Sequence[Envelope],
) -> list[tuple[Envelope, ...]]:
    """Batches other than ``batch`` a primary could propose instead, distinct digests each.

    The preferred construction comes first; the others follow so that several groups can be
    told several different things. Every candidate holds only requests the primary really
    received, so their client signatures stay valid: a backup must not be able to reject the
    lie on its face, only by comparing notes with the others.
    """
    candidates: dict[str, tuple[Envelope, ...]] = {
        "null": (),
        "reverse": tuple(reversed(batch)),
        "subset": batch[:-1],
    }
    in_batch = set(batch)
    stale = [request for request in seen_requests if request not in in_batch]
    candidates["stale"] = (*batch, stale[-1]) if stale else batch
    ordered = [prefer, *[name for name in ALTERNATIVES if name != prefer]]
    seen_digests = {batch_digest(batch)}
    result: list[tuple[Envelope, ...]] = []
    for name in ordered:
        digest = batch_digest(candidates[name])
        if digest not in seen_digests:
            seen_digests.add(digest)
            result.append(candidates[name])
    return result


def _client_requests(event: Input) -> list[Envelope]:
    """Request envelopes signed in their client's name, carried by ``event`` (loose or batched)."""
    if not isinstance(event, Received):
        return []
    payload = event.envelope.payload
    if isinstance(payload, Request):
        return [event.envelope] if event.envelope.sender == payload.client else []
    if isinstance(payload, PrePrepare):
        return [
            member
            for member in payload.batch
            if isinstance(member.payload, Request) and member.sender == member.payload.client
        ]
    return []


# --- the behaviours --------------------------------------------------------------------------


class Equivocator:
    """A faulty replica that equivocates as primary and colludes as backup (OSDI '99 §4.2).

    Params:
      split: list of lists of replica ids; group i receives alternative batch i, replicas in
        no group receive the honest pre-prepare. Default: the upper half of the backups.
      alternative: "null" | "reverse" | "subset" | "stale": the preferred construction of
        the first alternative batch (later groups get the next distinct construction).
      withhold_commits: never send a COMMIT, alone or inside a commit certificate (so no
        version can commit without three honest votes and the cluster must change view to
        make progress). Default false.
      collude: as a backup, send every replica PREPARE/COMMIT matching the digest it was
        given by an equivocating primary. Default true.

    The "collude" behaviour is the same replica without the primary's part: it accepts only
    ``withhold_commits`` and never equivocates itself.
    """

    PRIMARY_PARAMS = ("split", "alternative", "collude")
    PARAMS = ("withhold_commits",)
    SEEN_REQUESTS_MAX = 64

    def __init__(
        self, ctx: BehaviorContext, *, name: str = "equivocate", may_equivocate: bool = True
    ) -> None:
        params = ctx.params
        check_params(name, params, self.PARAMS + (self.PRIMARY_PARAMS if may_equivocate else ()))
        self._ctx = ctx
        self._me = ctx.replica
        self._n = ctx.config.n
        self._split = param_replica_groups(name, params, "split", n=self._n)
        self._alternative = param_choice(name, params, "alternative", ALTERNATIVES, default="null")
        self._withhold_commits = param_bool(name, params, "withhold_commits", default=False)
        self._collude = param_bool(name, params, "collude", default=True)
        self._equivocate = may_equivocate
        self._board = Board.shared(ctx.collusion)
        self._core = ctx.make_honest()
        self._seen_requests: list[Envelope] = []
        self._cursor = 0  # how many board plans this replica has already backed

    def start(self, *, now_s: float) -> list[Effect]:
        return self._rewrite(self._core.start(now_s=now_s))

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if not isinstance(event, Received | TimerFired):
            return []  # a Submit never reaches a replica
        for request in _client_requests(event):
            # Only requests that verify: a forged one would let backups reject the lie on sight.
            if request not in self._seen_requests and verify(self._ctx.keyring, request):
                self._seen_requests.append(request)
        del self._seen_requests[: -self.SEEN_REQUESTS_MAX]
        effects = self._rewrite(self._core.step(event, now_s=now_s))
        if self._collude:
            effects.extend(self._serve_new_plans())
        return effects

    # -- rewriting what the honest core says --

    def _rewrite(self, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            match effect:
                case Send(envelope=envelope) | Broadcast(envelope=envelope) if (
                    self._reveals_my_commit(envelope)
                ):
                    continue
                case Broadcast(envelope=envelope) if self._is_mine(envelope):
                    out.extend(self._rewrite_broadcast(envelope))
                case Send(to=to, envelope=envelope) if self._is_mine(envelope):
                    out.extend(self._rewrite_send(to, envelope))
                case _:
                    out.append(effect)
        return out

    def _is_mine(self, envelope: Envelope) -> bool:
        return envelope.sender == replica_principal(self._me)

    def _reveals_my_commit(self, envelope: Envelope) -> bool:
        """With ``withhold_commits``: would this message show anyone a COMMIT of mine?

        A commit certificate (state transfer) carries the commits that proved a batch
        committed, this replica's own among them; sending one would hand out the very vote
        that is being withheld.
        """
        payload = envelope.payload
        return (
            self._withhold_commits
            and isinstance(payload, CommitCertificate)
            and any(self._is_mine(commit) for commit in payload.commits)
        )

    def _rewrite_broadcast(self, envelope: Envelope) -> list[Effect]:
        payload = envelope.payload
        if isinstance(payload, PrePrepare) and self._equivocate:
            plan = self._plan_for(envelope, payload)
            self._board.publish(plan)
            return self._tell_each(plan)
        if isinstance(payload, Prepare | Commit):
            return [
                effect
                for replica in other_replicas(self._n, self._me)
                for effect in self._vote_to(replica, payload, envelope)
            ]
        return [Broadcast(envelope=envelope)]

    def _rewrite_send(self, to: str, envelope: Envelope) -> list[Effect]:
        payload = envelope.payload
        replica = replica_of(to)
        if replica is None:
            return [Send(to=to, envelope=envelope)]  # clients are not lied to here
        if isinstance(payload, PrePrepare):
            plan = self._board.plan(view=payload.view, seq=payload.seq)
            if plan is not None and plan.primary == self._me:
                told = plan.pre_prepares[plan.digest_for(replica)]
                return [Send(to=to, envelope=told)]
            return [Send(to=to, envelope=envelope)]
        if isinstance(payload, Prepare | Commit):
            return self._vote_to(replica, payload, envelope)
        return [Send(to=to, envelope=envelope)]

    def _vote_to(
        self, replica: ReplicaId, vote: Prepare | Commit, signed: Envelope | None = None
    ) -> list[Effect]:
        """The PREPARE/COMMIT ``replica`` should get: matching what it was told, or nothing.

        ``signed`` is the core's own envelope for ``vote``, reused when no lie is needed.
        """
        if isinstance(vote, Commit) and self._withhold_commits:
            return []
        to = replica_principal(replica)
        plan = self._board.plan(view=vote.view, seq=vote.seq)
        digest = vote.digest if plan is None else plan.digest_for(replica)
        if signed is not None and digest == vote.digest:
            return [Send(to=to, envelope=signed)]
        if plan is not None:
            self._ctx.report_tamper(
                type(vote).__name__, f"collude: {to} told seq {vote.seq} digest {digest.hex()[:12]}"
            )
        told = attrs.evolve(vote, digest=digest)
        return [Send(to=to, envelope=sign(self._ctx.signer, told))]

    # -- equivocating as primary --

    def _groups(self) -> tuple[tuple[ReplicaId, ...], ...]:
        if self._split is not None:
            return self._split
        backups = other_replicas(self._n, self._me)
        return (tuple(backups[len(backups) // 2 :]),)

    def _plan_for(self, envelope: Envelope, pre_prepare: PrePrepare) -> SlotPlan:
        alternatives = alternative_batches(
            pre_prepare.batch, prefer=self._alternative, seen_requests=self._seen_requests
        )
        plan = SlotPlan(
            primary=self._me,
            view=pre_prepare.view,
            seq=pre_prepare.seq,
            honest_digest=pre_prepare.digest,
            digests={},
            pre_prepares={pre_prepare.digest: envelope},
        )
        for index, group in enumerate(self._groups()):
            if not alternatives:
                break  # nothing distinct to say: this group hears the truth
            batch = alternatives[min(index, len(alternatives) - 1)]
            told = PrePrepare(
                view=pre_prepare.view,
                seq=pre_prepare.seq,
                digest=batch_digest(batch),
                batch=batch,
            )
            plan.pre_prepares.setdefault(told.digest, sign(self._ctx.signer, told))
            for replica in group:
                if replica != self._me:
                    plan.digests[replica] = told.digest
        return plan

    def _tell_each(self, plan: SlotPlan) -> list[Effect]:
        effects: list[Effect] = [
            Send(
                to=replica_principal(replica),
                envelope=plan.pre_prepares[plan.digest_for(replica)],
            )
            for replica in other_replicas(self._n, self._me)
        ]
        for replica, digest in sorted(plan.digests.items()):
            self._ctx.report_tamper(
                "PrePrepare",
                f"equivocate: r{replica} told seq {plan.seq} digest {digest.hex()[:12]}",
            )
        # The primary votes for every version at once: the strongest lie it can tell.
        effects.extend(self._votes_for(plan, include_prepare=False))
        return effects

    # -- colluding as backup --

    def _serve_new_plans(self) -> list[Effect]:
        effects: list[Effect] = []
        plans, self._cursor = self._board.published_since(self._cursor)
        for plan in plans:
            if plan.primary == self._me:
                continue
            effects.extend(self._votes_for(plan, include_prepare=True))
        return effects

    def _votes_for(self, plan: SlotPlan, *, include_prepare: bool) -> list[Effect]:
        """Send each replica a PREPARE (backups only) and a COMMIT for its own version."""
        effects: list[Effect] = []
        for replica in other_replicas(self._n, self._me):
            digest = plan.digest_for(replica)
            if include_prepare:
                prepare = Prepare(view=plan.view, seq=plan.seq, digest=digest, replica=self._me)
                effects.extend(self._vote_to(replica, prepare))
            commit = Commit(view=plan.view, seq=plan.seq, digest=digest, replica=self._me)
            effects.extend(self._vote_to(replica, commit))
        return effects


@register("equivocate")
def make_equivocator(ctx: BehaviorContext) -> Equivocator:
    """A primary that equivocates; as a backup it colludes with other equivocators."""
    return Equivocator(ctx, name="equivocate")


@register("collude")
def make_colluder(ctx: BehaviorContext) -> Equivocator:
    """A replica that never equivocates itself but backs every version another one told."""
    return Equivocator(ctx, name="collude", may_equivocate=False)
