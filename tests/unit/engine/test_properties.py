"""Property tests on the engine's pages: windows against a brute-force recount, batch-cut
independence, dedup keys. Window values are read from what the engine pages, never from its
insides: a ladder of rules (`>= 1`, `>= 2`, ...) that fire and resolve at once shows the
value at every moment, and a spike's evidence shows its windows."""

from collections.abc import Iterable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.message import dedup_key
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.unit.helpers import base_rule

LATENESS = 5_000
WINDOW_MS = 60_000
RES = 1_000
MAX_EVENTS = 120
ACCOUNTS = ["x", "y", "z", "w"]


@st.composite
def streams(draw, max_size=MAX_EVENTS):
    """Events with mostly increasing time, some out of order (some beyond the lateness)."""
    n = draw(st.integers(1, max_size))
    t = 0
    out = []
    for i in range(n):
        t += draw(st.integers(0, 4_000))
        jitter = draw(st.sampled_from([0, 0, 0, 0, -1_000, -4_000, -9_000]))
        out.append(
            {
                "event_id": f"e{i}",
                "ts": max(0, t + jitter),
                "org_id": draw(st.sampled_from(["a", "b", "c"])),
                "account_id": draw(st.sampled_from(ACCOUNTS)),
                "event_type": draw(
                    st.sampled_from(["request", "request", "signup", "key_created"])
                ),
                "flagged": draw(st.booleans()),
                "tokens": draw(st.integers(0, 50)),
            }
        )
    return out


def records(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


COUNT = base_rule({"type": "threshold", "window": "60s", "threshold": 5})
DISTINCT = base_rule({"type": "distinct", "field": "account_id", "window": "60s", "threshold": 2})


def ladder(name: str, detect: dict[str, Any], top: int) -> list[Rule]:
    """`name_k` holds exactly while the group's value is >= k, for k = 1..top: paged at once,
    resolved at once, never throttled."""
    return [
        base_rule(
            {**detect, "op": ">=", "threshold": k},
            id=f"{name}_{k}",
            resolve_after="0s",
            throttle="0s",
        )
        for k in range(1, top + 1)
    ]


LADDERS = ladder("count", {"type": "threshold", "window": "60s"}, MAX_EVENTS) + ladder(
    "distinct", {"type": "distinct", "field": "account_id", "window": "60s"}, len(ACCOUNTS)
)


def accepted_with_clock(events):
    now = -(2**62)
    for e in events:
        if e["ts"] < now - LATENESS:
            continue
        now = max(now, e["ts"])
        yield e, now


class Values:
    """Each group's value per ladder, kept up to date from the ladder's pages."""

    def __init__(self) -> None:
        self.holding: set[tuple[str, int, object]] = set()

    def read(self, alerts: list[Alert]) -> None:
        for a in alerts:
            name, k = a.rule_id.rsplit("_", 1)
            held = (name, int(k), a.group[0][1])
            if a.action == "trigger":
                assert held not in self.holding, a
                self.holding.add(held)
            else:
                self.holding.remove(held)

    def value(self, name: str, group: object) -> int:
        return max((k for n, k, g in self.holding if n == name and g == group), default=0)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_window_count_within_bucket_bound_of_brute_force(events):
    engine = CoreEngine(LADDERS, EngineSettings(allowed_lateness_ms=LATENESS))
    values = Values()
    seen = []
    for e, now in accepted_with_clock(events):
        out = engine.process(records([e]))
        assert out.late == 0
        values.read(out.alerts)
        seen.append(e)
        for org in ("a", "b", "c"):
            exact = [x for x in seen if x["org_id"] == org and now - WINDOW_MS < x["ts"] <= now]
            loose = [
                x for x in seen if x["org_id"] == org and now - WINDOW_MS - RES < x["ts"] <= now
            ]
            count = values.value("count", org)
            assert len(exact) <= count <= len(loose), (org, now)
            distinct = values.value("distinct", org)
            assert len({x["account_id"] for x in exact}) <= distinct
            assert distinct <= len({x["account_id"] for x in loose})


CATALOGUE = [
    COUNT,
    DISTINCT,
    base_rule(
        {
            "type": "threshold",
            "aggregate": "sum",
            "field": "tokens",
            "window": "30s",
            "threshold": 100,
        },
        id="sum",
        resolve_after="10s",
    ),
    base_rule(
        {
            "type": "ratio",
            "numerator": {"flagged": True},
            "window": "20s",
            "threshold": 0.5,
            "min_count": 3,
        },
        id="ratio",
        **{"for": "5s"},
    ),
    base_rule(
        {"type": "spike", "window": "10s", "factor": 2, "baseline_windows": 2, "direction": "both"},
        id="spike",
    ),
    base_rule({"type": "absence", "window": "15s"}, id="absence", resolve_after="5s"),
    base_rule(
        {"type": "new_value", "field": "account_id", "warmup": "10s", "lookback": "1m"},
        id="new",
        throttle="0s",
    ),
    base_rule({"type": "match"}, id="match", where={"event_type": "signup"}, throttle="20s"),
    base_rule(
        {
            "type": "sequence",
            "within": "40s",
            "steps": [
                {"where": {"event_type": "signup"}},
                {"where": {"event_type": "key_created"}},
                {"where": {"flagged": True}, "absent": True},
            ],
        },
        id="seq",
    ),
]


def run_cut(events, cuts, lateness=LATENESS, rules=CATALOGUE, flush=True):
    engine = CoreEngine(rules, EngineSettings(allowed_lateness_ms=lateness))
    values = records(events)
    out = []
    start = 0
    for cut in [*sorted(cuts), len(values)]:
        out += engine.process(values[start:cut]).alerts
        start = cut
    if flush:
        out += engine.flush()
    return out


@settings(max_examples=150, deadline=None)
@given(streams(max_size=200), st.data())
def test_output_independent_of_batch_cuts(events, data):
    cuts = data.draw(st.lists(st.integers(0, len(events)), max_size=8, unique=True))
    whole = run_cut(events, [])
    assert run_cut(events, cuts) == whole
    assert run_cut(events, range(len(events))) == whole


def test_a_timer_set_by_a_late_event_pages_after_that_event():
    """The late event (org c at 23492) clears the absence; its resolve is due at 28492, a time
    the stream clock reached one event earlier. The resolve still goes after the event that
    set it, as it does when the events come one batch each."""
    events = [
        {"event_id": f"e{i}", "ts": ts, "org_id": org, "account_id": account}
        | {"event_type": "request", "flagged": False, "tokens": 0}
        for i, (ts, org, account) in enumerate(
            [(6825, "c", "x"), (8446, "c", "z"), (28492, "a", "x"), (23492, "c", "y")]
        )
    ]
    whole = run_cut(events, [])
    assert [(a.rule_id, a.action, a.at) for a in whole] == [
        ("absence", "trigger", 23446),
        ("r1", "trigger", 28492),
        ("absence", "resolve", 28492),
        ("new", "trigger", 23492),
    ]
    assert run_cut(events, range(len(events))) == whole


def test_a_timer_set_as_time_passes_pages_no_earlier_than_what_set_it():
    """The silence of org c since 0 is known once the watermark passes 15000, at the event of
    20000; its `for` of 2s ends at 17000, which the clock reached one event earlier. The
    page goes after the silence became known, never before the signup of 18000."""
    rules = [
        base_rule({"type": "absence", "window": "15s"}, id="quiet", **{"for": "2s"}),
        base_rule({"type": "match"}, id="signup", where={"event_type": "signup"}),
    ]
    events = [
        {"event_id": "e0", "ts": 0, "org_id": "c", "event_type": "request"},
        {"event_id": "e1", "ts": 18_000, "org_id": "a", "event_type": "signup"},
        {"event_id": "e2", "ts": 20_000, "org_id": "a", "event_type": "request"},
    ]

    def pages(cuts: Iterable[int]) -> list[tuple[str, str, int]]:
        return [
            (a.rule_id, a.action, a.at)
            for a in run_cut(events, cuts, rules=rules, flush=False)
            if a.group == (("org_id", "c"),) or a.rule_id == "signup"
        ]

    assert pages([]) == [("signup", "trigger", 18_000), ("quiet", "trigger", 17_000)]
    assert pages([1, 2]) == pages([])


group_values = st.one_of(
    st.text(max_size=30), st.integers(), st.booleans(), st.floats(allow_nan=False)
)


@given(
    st.text(alphabet="abc_.-", min_size=1, max_size=20),
    st.lists(
        st.tuples(st.sampled_from(["org_id", "ip", "api_key_id"]), group_values),
        min_size=1,
        max_size=3,
        unique_by=lambda kv: kv[0],
    ),
)
def test_dedup_key_stable_and_bounded(rule_id, pairs):
    group = tuple(pairs)
    key = dedup_key(rule_id, group)
    assert key == dedup_key(rule_id, tuple(list(group)))
    assert key.startswith(rule_id + "/") and len(key) <= 255
    other = (*group[:-1], (group[-1][0], repr(group[-1][1]) + "!"))
    assert dedup_key(rule_id, other) != key


def in_order(events):
    return sorted(events, key=lambda e: e["ts"])


def run_lateness(events, lateness, cuts=()):
    out = run_cut(events, cuts, lateness)
    # With a lag, a deadline on the watermark is emitted later in the output: the pages, with
    # their event times and evidence, are what must not change.
    return sorted(out, key=lambda a: (a.at, a.rule_id, repr(a.group), a.action))


@settings(max_examples=150, deadline=None)
@given(streams(max_size=200), st.sampled_from([1, 5_000, 30_000, 600_000]), st.data())
def test_in_order_pages_independent_of_lateness(events, lateness, data):
    events = in_order(events)
    cuts = data.draw(st.lists(st.integers(0, len(events)), max_size=5, unique=True))
    assert run_lateness(events, lateness, cuts) == run_lateness(events, 0)


def spikes(detect: dict[str, Any], windows: int) -> list[Rule]:
    """Spike rules over the same windows, from eager to strict, paged and resolved at once so
    that each page's evidence is the windows at the moment it was sent."""
    return [
        base_rule(
            {
                "type": "spike",
                "factor": factor,
                "baseline_windows": windows,
                "direction": direction,
                **detect,
            },
            id=f"spike_{n}",
            resolve_after="0s",
            throttle="0s",
        )
        for n, (factor, direction) in enumerate([(2, "up"), (1.2, "both"), (1.5, "down")])
    ]


SPIKES = spikes({"window": "10s"}, 2)
SEASONAL = spikes({"window": "2s", "seasonality": "6s"}, 2)


def check_spike_windows(rules, events, window_ms, step_ms):
    """Every page's current window [t-w, t) (its evidence's window, t on a bucket boundary)
    holds exactly the brute-force count of the group's events in it; a first trigger's
    baseline is the mean of the brute-force counts of baseline windows j = 1, 2,
    [t-j*step-w, t-j*step). A baseline frozen by an earlier episode (until the windows it held
    in have left the baseline) is not recounted. Before each event, the clock is advanced to
    it, so the pages of passing time and those of the event itself are told apart."""
    engine = CoreEngine(rules, EngineSettings(allowed_lateness_ms=LATENESS))
    history = 2 * step_ms + window_ms
    resolved: dict[tuple[str, object], int] = {}
    seen: list[dict[str, Any]] = []
    checked = 0

    def count(org: object, end: int) -> int:
        return sum(1 for x in seen if x["org_id"] == org and end - window_ms <= x["ts"] < end)

    def check(alerts: list[Alert]) -> None:
        nonlocal checked
        for a in alerts:
            org = a.group[0][1]
            t = a.evidence.window_end
            assert t is not None and a.evidence.window_start == t - window_ms
            assert a.evidence.value == count(org, t), (a, t)
            checked += 1
            if a.action == "resolve":
                resolved[(a.rule_id, org)] = a.at
                continue
            last = resolved.get((a.rule_id, org))
            if last is None or last + history <= a.at:
                baseline = (count(org, t - step_ms) + count(org, t - 2 * step_ms)) / 2
                assert a.evidence.extra["baseline"] == round(baseline, 6), (a, t)

    for e, now in accepted_with_clock(events):
        check(engine.advance(now))
        seen.append(e)
        check(engine.process(records([e])).alerts)
    return checked


@settings(max_examples=150, deadline=None)
@given(streams())
def test_spike_windows_equal_a_brute_force_recount_on_the_boundary(events):
    check_spike_windows(SPIKES, events, 10_000, 10_000)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_seasonal_spike_windows_equal_a_brute_force_recount(events):
    check_spike_windows(SEASONAL, events, 2_000, 6_000)


def test_the_spike_recount_sees_pages():
    """The recount above has pages to check: a steady stream, then a burst of one org."""
    steady = [
        {"event_id": f"s{n}", "ts": n * 1_000, "org_id": "a", "event_type": "request"}
        for n in range(60)
    ]
    burst = [
        {"event_id": f"b{n}", "ts": 60_000 + n * 100, "org_id": "a", "event_type": "request"}
        for n in range(40)
    ]
    tail = [{"event_id": "t", "ts": 120_000, "org_id": "b", "event_type": "request"}]
    assert check_spike_windows(SPIKES, steady + burst + tail, 10_000, 10_000) > 0
    assert check_spike_windows(SEASONAL, steady + burst + tail, 2_000, 6_000) > 0
