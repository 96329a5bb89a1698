"""Generated input for sequence rules: few groups, each mostly walking through its own ordered
pattern of event types (signup, key, flagged requests; failed payment, usage, payment), with
random types, late and out-of-order times, malformed records and idle advances among them, so
that partial matches start, advance, complete, time out and get cancelled."""

from __future__ import annotations

import orjson
from hypothesis import strategies as st

from tests.unit.core.scripts import MALFORMED, Advance, Batch, Step

FLOW_TYPES = ["signup", "key_created", "request", "payment_failed", "payment_succeeded", "login"]
PATTERNS = [
    ["signup", "key_created", "request", "request", "request", "request"],
    ["payment_failed", "request", "request", "request", "request", "payment_succeeded"],
    ["signup", "request", "key_created", "request", "request", "login"],
    ["request"],
]
# (org_id, account_id or None)
GROUPS = [("o1", "a1"), ("o1", "a2"), ("o2", "a3"), ("o2", None), ("o3", "a1")]


@st.composite
def flows(
    draw: st.DrawFn, max_events: int = 150, spread_ms: int = 3_000, grain_ms: int = 1
) -> list[Step]:
    """Times in whole multiples of `grain_ms`: with whole-second grains, events land exactly on
    deadlines (first + within, last + window)."""
    n = draw(st.integers(1, max_events))
    t = draw(st.integers(0, 3_000)) * 1_000
    groups = GROUPS[: draw(st.integers(1, len(GROUPS)))]
    patterns = [draw(st.sampled_from(PATTERNS)) for _ in groups]
    cursors = [0] * len(groups)
    steps: list[Step] = []
    batch: list[bytes] = []
    for i in range(n):
        t += draw(st.integers(0, spread_ms // grain_ms)) * grain_ms
        jitter = draw(st.sampled_from([0] * 12 + [-500, -4_000, -20_000, -200_000]))
        jitter -= jitter % grain_ms
        if draw(st.integers(0, 40)) == 0:
            batch.append(draw(st.sampled_from(MALFORMED)))
        else:
            g = draw(st.integers(0, len(groups) - 1))
            if draw(st.integers(0, 9)) < 7:
                pattern = patterns[g]
                kind = pattern[cursors[g] % len(pattern)]
                cursors[g] += 1
            else:
                kind = draw(st.sampled_from(FLOW_TYPES))
            org, account = groups[g]
            e: dict[str, object] = {
                "event_id": f"e{i}",
                "org_id": org,
                "event_type": kind,
                "ts": max(0, t + jitter),
            }
            if account is not None:
                e["account_id"] = account
            if kind == "request" and draw(st.integers(0, 9)) < 8:
                e["flagged"] = draw(st.integers(0, 9)) < 7
            if draw(st.booleans()):
                e["ip"] = draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.7"]))
            batch.append(orjson.dumps(e))
        cut = draw(st.integers(0, 9))
        if cut == 0:
            steps.append(Batch(batch))
            batch = []
        elif cut == 1:
            steps.append(Batch(batch))
            batch = []
            t += draw(st.integers(0, 10 * spread_ms // grain_ms)) * grain_ms
            steps.append(Advance(t))
    steps.append(Batch(batch))
    return steps
