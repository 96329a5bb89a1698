"""The correlator's saved state: versioned JSON, read back exactly, other versions refused."""

from __future__ import annotations

import orjson
import pytest

from alerting.incidents import VERSION, Correlator, SnapshotError
from tests.unit.alerting.incidents.pages import MIN, R, T

STREAM = [
    T("org_rate", 0, org="o1"),
    T("key_burst", MIN, org="o1", key="k1", ip="203.0.113.9"),
    T("org_rate", 2 * MIN, org="o2"),
    R("org_rate", 3 * MIN, org="o2"),
    R("key_burst", 4 * MIN, org="o9", key="k1"),
]
LATER = [
    T("key_burst", 5 * MIN, org="o1", key="k2"),
    R("org_rate", 6 * MIN, org="o1"),
    R("org_rate", 3 * MIN, org="o2"),  # a repeat of a decision made before the save
    T("org_rate", 7 * MIN, org="o2"),
]


def saved(**kw) -> bytes:
    return Correlator.replay(STREAM, **kw).save()


def test_the_state_is_versioned_json():
    state = orjson.loads(saved(window_ms=5 * MIN, max_open=7))
    assert state["version"] == VERSION == 1
    assert (state["window_ms"], state["max_open"]) == (5 * MIN, 7)
    assert [i["root"]["value"] for i in state["open"]] == ["o1"]
    assert [i["root"]["value"] for i in state["resolved"]] == ["o2"]
    assert [p["dedup_key"] for p in state["open"][0]["pages"]] == [
        "org_rate/o1",
        "key_burst/o1,k1,203.0.113.9",
    ]
    assert [s[3]["what"] for s in state["seen"]] == [
        "opened", "absorbed", "opened", "resolved", "alone",
    ]  # fmt: skip


def test_restored_decides_as_the_one_saved():
    before = Correlator.replay(STREAM)
    restored = Correlator.restore(before.save())
    assert restored.save() == before.save()
    assert restored.counters == before.counters
    assert restored.incidents() == before.incidents()
    assert [restored.decide(m) for m in LATER] == [before.decide(m) for m in LATER]


def test_a_restore_may_change_the_window_and_lower_the_cap():
    data = saved(max_open=10)
    c = Correlator.restore(data, window_ms=MIN, max_open=10)
    assert (c.window_ms, c.max_open) == (MIN, 10)
    c.decide(T("org_rate", 8 * MIN, org="o3"))
    c.decide(T("org_rate", 8 * MIN, org="o4"))
    smaller = Correlator.restore(c.save(), max_open=1)
    assert [i.root.value for i in smaller.incidents() if i.resolved_at is None] == ["o4"]
    assert smaller.counters.dropped == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"version": 2, "open": []}', "incident state version 2 is not one this build reads "
                                        "(it reads version 1)"),
        (b'{"version": "1"}', "incident state version '1' is not one this build reads "
                              "(it reads version 1)"),
        (b"not json", "incident state: not JSON"),
        (b"[1]", "incident state: no version (not a saved correlator)"),
        (b'{"open": []}', "incident state: no version (not a saved correlator)"),
    ],
    ids=["a later version", "a version that is no number", "not JSON", "not an object",
         "no version"],
)  # fmt: skip
def test_what_is_not_a_state_of_this_version_is_refused_in_one_line(data, message):
    with pytest.raises(SnapshotError) as exc:
        Correlator.restore(data)
    assert str(exc.value) == message
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("counters"),
        lambda s: s["open"][0].update(seq="first"),
        lambda s: s["open"][0]["pages"][0]["entities"][0].update(source="nowhere"),
        lambda s: s["seen"][0][3].update(what="merged"),
        lambda s: s["seen"][0].pop(),
        lambda s: s["counters"]["pages_buckets"].pop(),
    ],
    ids=["no counters", "a seq not a number", "an unknown entity source", "an unknown decision",
         "a short seen entry", "too few buckets"],
)  # fmt: skip
def test_a_damaged_state_is_refused_in_one_line(damage):
    state = orjson.loads(saved())
    damage(state)
    with pytest.raises(SnapshotError, match=r"^incident state: malformed \(") as exc:
        Correlator.restore(orjson.dumps(state))
    assert "\n" not in str(exc.value)
