"""Properties over random page streams: a brute-force reading of the rules decides as the
correlator does; a save and restore (or a replay) anywhere changes no later decision; a repeat
changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.incidents import Correlator, Decision, Root, incident_id, page_time, root_of
from alerting.pager import PagerMessage
from tests.unit.alerting.incidents.pages import HOUR, MIN
from tests.unit.alerting.incidents.random_pages import STEP, stream

WINDOWS = st.sampled_from([0, 5 * MIN, 30 * MIN, 2 * HOUR])


@dataclass
class RefIncident:
    id: str
    root: Root
    opened_at: int
    last: int
    pages: dict[str, tuple[frozenset[str], bool]] = field(default_factory=dict)  # refs, firing

    @property
    def firing(self) -> int:
        return sum(f for _, f in self.pages.values())

    def decision(self, what, absorbed_by=None) -> Decision:
        return Decision(
            self.id, what, self.root, self.opened_at, len(self.pages), self.firing, absorbed_by
        )


class Reference:
    """The package docstring's rules read as literally as possible: every incident in a list,
    searched from scratch for each message. No memory bounds, no repeats."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.incidents: list[RefIncident] = []

    def decide(self, m: PagerMessage) -> Decision:
        at, key = page_time(m), m.dedup_key
        refs = frozenset(e.ref for e in m.payload.custom_details.entities)
        open_ = [i for i in self.incidents if i.firing]
        where = [i for i in open_ if i.pages.get(key, (None, False))[1]]
        if m.event_action == "resolve":
            if not where:
                root = Root("page", key, f"page/{key}")
                return Decision(incident_id(root.ref, key, at), "alone", root, at, 1, 0)
            (inc,) = where
            inc.pages[key] = (inc.pages[key][0], False)
            return inc.decision("resolved" if inc.firing == 0 else "page_resolved")
        if where:
            (inc,) = where
            inc.last = max(inc.last, at)
            return inc.decision("updated")
        root = root_of(m)
        same = [i for i in open_ if i.root.ref == root.ref]
        parents = [
            ((len(prefs), n), dk, inc)
            for n, inc in enumerate(same)
            for dk, (prefs, firing) in inc.pages.items()
            if firing and prefs < refs
        ]
        if parents:
            best = max(rank for rank, _, _ in parents)
            _, dk, inc = min((p for p in parents if p[0] == best), key=lambda p: p[1])
            inc.pages[key] = (refs, True)
            inc.last = max(inc.last, at)
            return inc.decision("absorbed", dk)
        recent = [i for i in same if i.last >= at - self.window_ms]
        if recent:
            inc = recent[-1]
            inc.pages[key] = (refs, True)
            inc.last = max(inc.last, at)
            return inc.decision("joined")
        inc = RefIncident(incident_id(root.ref, key, at), root, at, at, {key: (refs, True)})
        self.incidents.append(inc)
        return inc.decision("opened")


def once(messages: list[PagerMessage]) -> list[PagerMessage]:
    """Each (dedup key, action, time) once: a second one is a repeat by definition."""
    seen, out = set(), []
    for m in messages:
        k = (m.dedup_key, m.event_action, m.payload.timestamp)
        if k not in seen:
            seen.add(k)
            out.append(m)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60), WINDOWS)
def test_the_correlator_decides_as_the_rules_read_literally(steps, window_ms):
    messages = once(stream(steps, repeats=False))
    c, ref = Correlator(window_ms), Reference(window_ms)
    assert [c.decide(m) for m in messages] == [ref.decide(m) for m in messages]


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60), WINDOWS, st.sampled_from([1, 2, 3, 1000]), st.data())
def test_restore_and_replay_decide_as_a_correlator_that_never_stopped(
    steps, window_ms, max_open, data
):
    messages = stream(steps)
    cut = data.draw(st.integers(0, len(messages)), label="cut")
    straight = Correlator(window_ms, max_open)
    expected = [straight.decide(m) for m in messages]

    before = Correlator(window_ms, max_open)
    for m in messages[:cut]:
        before.decide(m)
    saved = before.save()
    restored = Correlator.restore(saved)
    replayed = Correlator.replay(messages[:cut], window_ms=window_ms, max_open=max_open)
    assert replayed.save() == saved == restored.save()
    assert [restored.decide(m) for m in messages[cut:]] == expected[cut:]
    assert [replayed.decide(m) for m in messages[cut:]] == expected[cut:]
    assert restored.save() == replayed.save() == straight.save()
    assert restored.incidents() == straight.incidents()


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=60), st.data())
def test_a_repeat_gives_the_same_decision_and_changes_no_other(steps, data):
    messages = once(stream(steps, repeats=False))
    if not messages:
        return
    first = data.draw(st.integers(0, len(messages) - 1), label="repeated")
    after = data.draw(st.integers(first, min(first + 5, len(messages) - 1)), label="after")
    with_repeat = [*messages[: after + 1], messages[first], *messages[after + 1 :]]
    c, plain = Correlator(window_ms=10 * HOUR), Correlator(window_ms=10 * HOUR)
    got = [c.decide(m) for m in with_repeat]
    expected = [plain.decide(m) for m in messages]
    assert got[after + 1] == expected[first]
    assert got[: after + 1] + got[after + 2 :] == expected
    assert c.save() == plain.save()
