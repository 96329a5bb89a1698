"""Late events on an input partition: decided there once, for every rule, by the engine's rule.

That partition's own order is the same in every run; the order in which a repartition
partition merges its sources is not. So an input partition decides which events are late for
the families too, forwards only the others, and counts the late ones against the family rules
that would have read them.
"""

from __future__ import annotations

from signalfire.events import Event
from signalfire.rulecounts import RuleCounts
from streams.outputs import Outputs
from streams.topology import Family


def split_late(events: list[Event], now: int, lateness: int) -> tuple[list[Event], list[Event]]:
    """(on time, late), by the engine's rule (Engine.process): an event older than the highest
    event time seen before it, minus the allowed lateness, is late and does not move time."""
    on_time: list[Event] = []
    late: list[Event] = []
    for e in events:
        ts = e["ts"]
        if ts < now - lateness:
            late.append(e)
        else:
            on_time.append(e)
            now = max(now, ts)
    return on_time, late


def count_late(out: Outputs, family: Family, late: list[Event]) -> None:
    """Count late events against the family's rules that would have looked at them."""
    if not late:
        return
    for rule, (idxs, _, _) in zip(family.rules, family.select(late), strict=True):
        if idxs:
            out.count(rule.id, RuleCounts(late=len(idxs)))
