"""The "silent" behaviour: a replica that sends nothing at all (a fail-silent Byzantine node).

Silence is the weakest Byzantine fault and the one that costs liveness most cheaply: a silent
primary forces a view change (OSDI '99 §4.4), a silent backup shrinks the margin of every
quorum to exactly 2f + 1. With ``after_s`` the replica behaves honestly until its own clock
reads ``after_s`` and then falls silent, which exercises a view change after real progress.
"""

from __future__ import annotations

from adversary.behavior import BehaviorContext, check_params, param_float, register
from pbft.effects import Effect
from pbft.inputs import Input, Submit


@register("silent")
class Silent:
    """Withholds every effect once silent; an honest core until then (params: ``after_s``)."""

    def __init__(self, ctx: BehaviorContext) -> None:
        check_params("silent", ctx.params, ("after_s",))
        self.after_s = param_float("silent", ctx.params, "after_s", default=0.0, minimum=0.0)
        # Only build (and sign with) an honest core when there is an honest phase.
        self._honest = ctx.make_honest() if self.after_s > 0 else None

    def _silent_at(self, now_s: float) -> bool:
        return self._honest is None or now_s >= self.after_s

    def start(self, *, now_s: float) -> list[Effect]:
        if self._silent_at(now_s):
            return []
        assert self._honest is not None
        effects: list[Effect] = self._honest.start(now_s=now_s)
        return effects

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if self._silent_at(now_s):
            # Dropping the honest core frees its state; it is never consulted again.
            self._honest = None
            return []
        assert self._honest is not None
        if isinstance(event, Submit):
            return []  # only clients are asked to submit; a replica has nothing to do
        effects: list[Effect] = self._honest.step(event, now_s=now_s)
        return effects
