"""Lying replicas: execute honestly, answer clients falsely (OSDI '99 §4.1).

A PBFT client accepts a result only once f + 1 replicas sent matching replies, because any
f + 1 replicas include at least one correct one. ``lie`` is the attack that rule defends
against: the faulty replica runs an honest core (so it keeps its place in the protocol and its
checkpoints match) but rewrites every REPLY it sends, signed with its own key. With at most f
liars the client still hears f + 1 matching honest replies; f + 1 liars that tell the *same*
lie (every mode here is deterministic, so colluding liars agree without talking) make the
client accept a result no correct replica computed, which the client-consistency checker
reports.

With ``eager`` the liar does not wait for the request to commit: it answers as soon as it sees
the request (from the client or inside a pre-prepare), so its lie reaches the client before
any honest reply can. Only result-independent lies ("constant", "empty") can be eager.
"""

from __future__ import annotations

import attrs

from adversary.behavior import BehaviorContext, check_params, register
from adversary.params import param_bool, param_choice, param_error, param_text
from pbft.effects import Effect, Send
from pbft.ids import Principal, replica_principal
from pbft.inputs import Input, Received, TimerFired
from pbft.messages import Envelope, PrePrepare, Reply, Request, sign

LIE_MODES = ("flip", "constant", "empty")
EAGER_MODES = ("constant", "empty")
DEFAULT_CONSTANT = "forged result"


def told_result(true_result: bytes, *, how: str, constant: bytes) -> bytes:
    """The lie told in place of ``true_result``: always different, same for every liar.

    "flip" inverts every bit (b"" becomes b"\\xff"), "constant" answers ``constant`` (or, if
    that is the truth, the constant with a byte appended), "empty" answers b"" (or b"\\x00").
    """
    match how:
        case "flip":
            return bytes(byte ^ 0xFF for byte in true_result) if true_result else b"\xff"
        case "constant":
            return constant if constant != true_result else constant + b"!"
        case "empty":
            return b"" if true_result else b"\x00"
    raise AssertionError(f"unvalidated lie mode {how!r}")


class Liar:
    """A replica that executes honestly but sends clients wrong results (OSDI '99 §4.1).

    Params:
      how: "flip" (default) | "constant" | "empty": how the result is falsified.
      value: the text sent by "constant" (default "forged result").
      eager: reply with the lie as soon as the request is seen, before it commits. Only with
        "constant" or "empty". Default false.
      clients: list of client ids to lie to; default every client.
    """

    PARAMS = ("how", "value", "eager", "clients")

    def __init__(self, ctx: BehaviorContext) -> None:
        params = ctx.params
        check_params("lie", params, self.PARAMS)
        self._ctx = ctx
        self._me = replica_principal(ctx.replica)
        self._how = param_choice("lie", params, "how", LIE_MODES, default="flip")
        value = param_text("lie", params, "value", default=DEFAULT_CONSTANT)
        if "value" in params and self._how != "constant":
            raise param_error("lie", "value", 'is only used with how = "constant"')
        self._constant = value.encode()
        self._eager = param_bool("lie", params, "eager", default=False)
        if self._eager and self._how not in EAGER_MODES:
            modes = " or ".join(repr(mode) for mode in EAGER_MODES)
            raise param_error(
                "lie", "eager", f"needs a lie that does not depend on the result (how = {modes})"
            )
        clients = params.get("clients")
        if clients is not None and (
            not isinstance(clients, list | tuple)
            or not all(isinstance(client, str) for client in clients)
        ):
            raise param_error("lie", "clients", f"must be a list of client ids, got {clients!r}")
        unknown = sorted(set(clients or ()) - set(ctx.clients)) if ctx.clients else []
        if unknown:
            raise param_error(
                "lie",
                "clients",
                f"names clients this run does not have: {', '.join(unknown)} "
                f"(clients: {', '.join(ctx.clients)})",
            )
        self._clients: frozenset[str] | None = None if clients is None else frozenset(clients)
        self._core = ctx.make_honest()
        self._answered: set[tuple[Principal, int]] = set()

    def start(self, *, now_s: float) -> list[Effect]:
        return self._rewrite(self._core.start(now_s=now_s))

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if not isinstance(event, Received | TimerFired):
            return []  # a Submit never reaches a replica
        effects = self._rewrite(self._core.step(event, now_s=now_s))
        if self._eager:
            effects.extend(self._answer_early(event))
        return effects

    def _targets(self, client: Principal) -> bool:
        return self._clients is None or client in self._clients

    def _rewrite(self, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            match effect:
                case Send(to=to, envelope=Envelope(sender=sender, payload=Reply() as reply)) if (
                    sender == self._me and self._targets(reply.client)
                ):
                    lie = told_result(reply.result, how=self._how, constant=self._constant)
                    told = attrs.evolve(reply, result=lie)
                    self._ctx.report_tamper("Reply", f"lie ({self._how}) to {to}")
                    out.append(Send(to=to, envelope=sign(self._ctx.signer, told)))
                case _:
                    out.append(effect)
        return out

    def _answer_early(self, event: Input) -> list[Effect]:
        """Reply with the lie to every request ``event`` reveals that was not answered yet."""
        if not isinstance(event, Received):
            return []
        payload = event.envelope.payload
        if isinstance(payload, Request):
            requests = [payload]
        elif isinstance(payload, PrePrepare):
            requests = [m.payload for m in payload.batch if isinstance(m.payload, Request)]
        else:
            return []
        view = self._core.status().view
        effects: list[Effect] = []
        for request in requests:
            key = (request.client, request.timestamp)
            if key in self._answered or not self._targets(request.client):
                continue
            self._answered.add(key)
            # The lie cannot depend on the result, which is not known yet.
            lie = told_result(b"\x00unknown", how=self._how, constant=self._constant)
            reply = Reply(
                view=view,
                timestamp=request.timestamp,
                client=request.client,
                replica=self._ctx.replica,
                result=lie,
            )
            self._ctx.report_tamper("Reply", f"lie ({self._how}, eager) to {request.client}")
            effects.append(Send(to=request.client, envelope=sign(self._ctx.signer, reply)))
        return effects


@register("lie")
def make_liar(ctx: BehaviorContext) -> Liar:
    """A replica that executes honestly but sends clients wrong results."""
    return Liar(ctx)
