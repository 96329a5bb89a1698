"""Forwarding to repartition topics in the compiled core against the worker's Python routing:
the same events reach the same partitions, cut down to the same fields, and the same late
events are counted against the same family rules."""

from __future__ import annotations

import contextlib

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine import EngineSettings
from signalfire.engine.core import CoreEngine, Route
from streams.topology import build_topology
from tests.reference.events import EventError, decode
from tests.unit.core.reference_routing import encode_batch, route, select, split_late
from tests.unit.core.scripts import Advance, Batch, Restart, Step, scripts
from tests.unit.helpers import base_rule

RULES = [
    base_rule({"type": "match"}, id="by_org", where={"flagged": True}),
    base_rule(
        {"type": "distinct", "field": "account_id", "window": "5m", "threshold": 2},
        id="ip_fanout",
        group_by=["ip"],
        where={"event_type": "signup"},
        evidence={"top": ["country"]},
    ),
    base_rule(
        {
            "type": "threshold",
            "aggregate": "sum",
            "field": "attrs.n",
            "window": "1m",
            "threshold": 9,
        },
        id="ip_sum",
        group_by=["ip"],
    ),
    base_rule(
        {"type": "match"},
        id="by_account_type",
        group_by=["account_id", "event_type"],
        where={"status": {"gte": 429}},
    ),
]
TOPOLOGY = build_topology(RULES)
ROUTES = [Route(f.name, f.rules, f.fields) for f in TOPOLOGY.families]


def bodies_events(bodies: list[bytes]) -> list[dict[str, object]]:
    return [e for body in bodies for e in orjson.loads(b"[" + body + b"]")]


@settings(max_examples=80, deadline=None)
@given(scripts(max_events=120), st.sampled_from([0, 5_000]), st.sampled_from([1, 3, 4]))
def test_routing_matches_the_python_worker(
    script: list[Step], lateness: int, partitions: int
) -> None:
    core = CoreEngine(TOPOLOGY.direct, EngineSettings(allowed_lateness_ms=lateness))
    core.route_to(ROUTES, partitions, 512)
    now = -(2**62)
    for step in script:
        if isinstance(step, Restart | Advance):
            continue
        assert isinstance(step, Batch)
        events = []
        for raw in step.records:
            with contextlib.suppress(EventError):
                events.append(decode(raw))
        on_time, late = split_late(events, now, lateness)
        for e in on_time:
            now = max(now, e["ts"])
        out = core.process(list(step.records))
        for n, fam in enumerate(TOPOLOGY.families):
            want = route(fam, on_time, partitions)
            for part in range(partitions):
                expected = [
                    {k: v for k, v in e.items() if v is not None} for e in want.get(part, [])
                ]
                got = bodies_events(out.routed[n][part])
                assert repr(got) == repr(expected), (fam.name, part)
                # records cut as the Python encoder cuts them
                cuts = encode_batch(0, 0, want.get(part, []), limit=512)
                assert len(out.routed[n][part]) == (0 if not want.get(part) else len(cuts))
            counts = (
                [len(idxs) for idxs, _, _ in select(fam)(late)] if late else [0] * len(fam.rules)
            )
            assert out.family_late[n] == counts


def test_a_family_grouped_by_a_boolean_is_routed() -> None:
    rule = base_rule({"type": "match"}, id="by_flag", group_by=["flagged"])
    core = CoreEngine([])
    core.route_to([Route("flagged", (rule,), ("event_id", "flagged", "ts"))], 2, 512)
    out = core.process([orjson.dumps({"event_id": "e1", "org_id": "o", "ts": 1, "flagged": True})])
    assert bodies_events([b for part in out.routed[0] for b in part]) == [
        {"event_id": "e1", "flagged": True, "ts": 1}
    ]
