"""Episodes against a brute-force model: any sequence of triggers and resolves, each message
recorded once or more, in any order, gives the episodes the model gives, and recording it all
again changes nothing. SQLite in memory: the dialects share the code these runs exercise."""

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.store import open_store
from tests.unit.alerting.pager_samples import T0, message

MIN = 60_000
Msg = tuple[str, str, int]  # key, action, minute

messages = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["trigger", "resolve"]),
        st.integers(0, 30),
    ),
    max_size=30,
)


@dataclass
class Episode:
    state: str
    started_at: int
    resolved_at: int | None
    triggers: int


def model(sequence: list[Msg]) -> dict[str, list[Episode]]:
    """Per key, its episodes in order."""
    seen: set[Msg] = set()
    episodes: dict[str, list[Episode]] = {}
    for key, action, minute in sequence:
        if (key, action, minute) in seen:
            continue
        seen.add((key, action, minute))
        at = T0 + minute * MIN
        mine = episodes.setdefault(key, [])
        current = mine[-1] if mine and mine[-1].state == "triggered" else None
        if action == "trigger":
            # A trigger stored after its resolve (a snoozed trigger on the shadow topic, its
            # resolve on pager) completes the earliest episode that resolve made.
            waiting = [e for e in mine if e.triggers == 0 and (e.resolved_at or 0) >= at]
            if current is None and waiting:
                first = min(waiting, key=lambda e: e.resolved_at or 0)
                first.triggers, first.started_at = 1, at
            elif current is None:
                mine.append(Episode("triggered", at, None, 1))
            else:
                current.triggers += 1
        elif current is None:
            mine.append(Episode("resolved", at, at, 0))
        else:
            current.state, current.resolved_at = "resolved", at
    return episodes


@settings(max_examples=60, deadline=None)
@given(messages, st.lists(st.integers(0, 29), max_size=10))
def test_episodes_match_the_model_and_replays_change_nothing(sequence, repeats):
    store = open_store("sqlite:///:memory:")
    try:
        with_repeats = list(sequence)
        for i in repeats:
            if i < len(sequence):
                with_repeats.insert(i, sequence[i])  # a re-delivery, right where it was
        for key, action, minute in with_repeats:
            store.record(message(action, key=key, at=T0 + minute * MIN))
        pages = store.list_pages(limit=500).pages
        found: dict[str, list[Episode]] = {}
        for p in sorted(pages, key=lambda p: p.id):
            key = p.group_text.split("api_key_id=")[1].split(",")[0]
            found.setdefault(key, []).append(
                Episode(p.state, p.started_at, p.resolved_at, p.triggers)
            )
        assert found == model(with_repeats)
        for key, action, minute in sequence:
            assert store.record(message(action, key=key, at=T0 + minute * MIN)).outcome == (
                "duplicate"
            )
        assert store.list_pages(limit=500).pages == pages
    finally:
        store.close()
