"""The agenda: earliest event first, and events at the same time in the order scheduled."""

from __future__ import annotations

from pbft.sim import events


def test_events_come_out_by_time_and_ties_in_scheduling_order() -> None:
    agenda = events.Agenda()
    agenda.push(2.0, events.SUBMIT, "late")
    agenda.push(1.0, events.SUBMIT, "first")
    agenda.push(1.0, events.TIMER, "second")
    agenda.push(1.0, events.SUBMIT, "third")
    assert agenda.peek_time() == 1.0
    order = [agenda.pop()[3] for _ in range(len(agenda))]
    assert order == ["first", "second", "third", "late"]
    assert len(agenda) == 0


def test_milestone_kinds_sort_after_the_per_message_kinds() -> None:
    # The runner counts pending milestones by kind >= FAULT; keep the numbering so.
    assert max(events.DELIVER, events.TIMER, events.SUBMIT) < events.FAULT
    assert min(events.RESUME, events.SLOW_ENDED, events.GST) > events.FAULT
