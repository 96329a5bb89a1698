"""Property tests: windows against a brute-force recount, batch-cut independence, dedup keys."""

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.message import dedup_key
from signalfire.engine import Engine, EngineSettings
from signalfire.engine.detectors.spike import SpikeDetector
from signalfire.engine.detectors.windowed import WindowedDetector
from tests.unit.helpers import base_rule

LATENESS = 5_000
WINDOW_MS = 60_000
RES = 1_000


@st.composite
def streams(draw, max_size=120):
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
                "account_id": draw(st.sampled_from(["x", "y", "z", "w"])),
                "event_type": draw(
                    st.sampled_from(["request", "request", "signup", "key_created"])
                ),
                "flagged": draw(st.booleans()),
                "tokens": draw(st.integers(0, 50)),
            }
        )
    return out


COUNT = base_rule({"type": "threshold", "window": "60s", "threshold": 5})
DISTINCT = base_rule({"type": "distinct", "field": "account_id", "window": "60s", "threshold": 2})


def windowed(engine, n):
    det = engine.detectors[n]
    assert isinstance(det, WindowedDetector)
    return det


def accepted_with_clock(events):
    now = -(2**62)
    for e in events:
        if e["ts"] < now - LATENESS:
            continue
        now = max(now, e["ts"])
        yield e, now


@settings(max_examples=150, deadline=None)
@given(streams())
def test_window_count_within_bucket_bound_of_brute_force(events):
    engine = Engine([COUNT, DISTINCT], EngineSettings(allowed_lateness_ms=LATENESS))
    seen = []
    for e, now in accepted_with_clock(events):
        engine.process([dict(e)])
        seen.append(e)
        for org in ("a", "b", "c"):
            exact = [x for x in seen if x["org_id"] == org and now - WINDOW_MS < x["ts"] <= now]
            loose = [
                x for x in seen if x["org_id"] == org and now - WINDOW_MS - RES < x["ts"] <= now
            ]
            count = windowed(engine, 0).value(org)
            assert len(exact) <= count <= len(loose), (org, now)
            distinct = windowed(engine, 1).value(org)
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


def run_cut(events, cuts, lateness=LATENESS):
    engine = Engine(CATALOGUE, EngineSettings(allowed_lateness_ms=lateness))
    out = []
    start = 0
    for cut in [*sorted(cuts), len(events)]:
        out += engine.process([dict(e) for e in events[start:cut]])
        start = cut
    out += engine.flush()
    return out


@settings(max_examples=150, deadline=None)
@given(streams(max_size=200), st.data())
def test_output_independent_of_batch_cuts(events, data):
    cuts = data.draw(st.lists(st.integers(0, len(events)), max_size=8, unique=True))
    whole = run_cut(events, [])
    assert run_cut(events, cuts) == whole
    assert run_cut(events, range(len(events))) == whole


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


SPIKE = base_rule({"type": "spike", "window": "10s", "factor": 2, "baseline_windows": 2})
SEASONAL = base_rule(
    {"type": "spike", "window": "2s", "seasonality": "6s", "factor": 2, "baseline_windows": 2}
)


def check_spike_windows(rule, events, window_ms, step_ms):
    """After every event, the current window [t-w, t) and baseline window j, [t-j*step-w,
    t-j*step), hold exactly the brute-force counts at the detector's boundary t."""
    engine = Engine([rule], EngineSettings(allowed_lateness_ms=LATENESS))
    det = engine.detectors[0]
    assert isinstance(det, SpikeDetector)
    seen = []
    for e, _ in accepted_with_clock(events):
        engine.process([dict(e)])
        seen.append(e)
        t = det.boundary * det.res
        for org in ("a", "b", "c"):
            counts = [
                sum(
                    1
                    for x in seen
                    if x["org_id"] == org
                    and t - j * step_ms - window_ms <= x["ts"] < t - j * step_ms
                )
                for j in range(3)
            ]
            sums = det.sums.get(org, [0.0] * 6)
            assert [sums[0], sums[2], sums[4]] == counts, (org, t)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_spike_windows_equal_a_brute_force_recount_on_the_boundary(events):
    check_spike_windows(SPIKE, events, 10_000, 10_000)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_seasonal_spike_windows_equal_a_brute_force_recount(events):
    check_spike_windows(SEASONAL, events, 2_000, 6_000)
