"""Forwarding to repartition topics in the compiled core against the worker's Python routing:
the same events reach the same partitions, cut down to the same fields, and the same late
events are counted against the same family rules, in either form the core writes them."""

from __future__ import annotations

import contextlib

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine import EngineSettings
from signalfire.engine.core import CoreEngine, RepartitionFormat, Route
from streams.topology import build_topology
from tests.reference.events import EventError, decode
from tests.reference.wire import read_body
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


def bodies_events(bodies: list[bytes], form: RepartitionFormat = "json") -> list[str]:
    """The events of record bodies, each as the repr of its fields sorted by name (the binary
    form writes the event time first, the JSON form in the family's field order)."""
    if form == "json":
        events = [e for body in bodies for e in orjson.loads(b"[" + body + b"]")]
    else:
        events = [e for body in bodies for e in read_body(body)]
    return [repr(sorted(e.items())) for e in events]


@settings(max_examples=80, deadline=None)
@given(
    scripts(max_events=120),
    st.sampled_from([0, 5_000]),
    st.sampled_from([1, 3, 4]),
    st.sampled_from(["json", "binary"]),
)
def test_routing_matches_the_python_worker(
    script: list[Step], lateness: int, partitions: int, form: RepartitionFormat
) -> None:
    core = CoreEngine(TOPOLOGY.direct, EngineSettings(allowed_lateness_ms=lateness))
    core.route_to(ROUTES, partitions, 512, form)
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
                    repr(sorted((k, v) for k, v in e.items() if v is not None))
                    for e in want.get(part, [])
                ]
                got = bodies_events(out.routed[n][part], form)
                assert got == expected, (fam.name, part)
                if form == "json":
                    # records cut as the Python encoder cuts them
                    cuts = encode_batch(0, 0, want.get(part, []), limit=512)
                    assert len(out.routed[n][part]) == (0 if not want.get(part) else len(cuts))
                else:
                    # no body but one of a single event grows past the limit
                    assert all(
                        len(b) <= 512 or len(bodies_events([b], form)) == 1
                        for b in out.routed[n][part]
                    )
            counts = (
                [len(idxs) for idxs, _, _ in select(fam)(late)] if late else [0] * len(fam.rules)
            )
            assert out.family_late[n] == counts


def test_a_family_grouped_by_a_boolean_is_routed() -> None:
    rule = base_rule({"type": "match"}, id="by_flag", group_by=["flagged"])
    for form in ("json", "binary"):
        core = CoreEngine([])
        core.route_to([Route("flagged", (rule,), ("event_id", "flagged", "ts"))], 2, 512, form)
        event = {"event_id": "e1", "org_id": "o", "ts": 1, "flagged": True}
        out = core.process([orjson.dumps(event)])
        assert bodies_events([b for part in out.routed[0] for b in part], form) == [
            repr([("event_id", "e1"), ("flagged", True), ("ts", 1)])
        ]


def test_a_batch_larger_than_the_cores_part_is_handled_as_one_batch() -> None:
    """The core takes a large batch in parts: dead letters keep their place in the batch,
    records are cut across the parts as one whole batch cuts them, late events are counted
    over every part, and the alerts are those of the same events cut into other batches."""
    dead_at = [7, 2_047, 2_048, 4_099, 4_999]
    records = [
        b"not json" if n in dead_at else orjson.dumps({
            "event_id": f"e{n}", "org_id": f"o{n % 3}", "ip": f"10.0.0.{n % 7}",
            "ts": 1_000_000 + n * 100 - (60_000 if n % 97 == 0 else 0),
            "account_id": f"a{n % 11}", "event_type": "signup", "flagged": n % 5 == 0,
            "status": 429 if n % 13 == 0 else 200, "attrs": {"n": n % 4},
        })
        for n in range(5_000)
    ]  # fmt: skip
    settings = EngineSettings(allowed_lateness_ms=5_000)
    whole = CoreEngine(TOPOLOGY.direct, settings)
    whole.route_to(ROUTES, 3, 512, "json")
    out = whole.process(records)
    assert [d.index for d in out.dead_letters] == dead_at
    events = [decode(r) for n, r in enumerate(records) if n not in dead_at]
    on_time, late = split_late(events, -(2**62), 5_000)
    assert late and out.late == len(late)
    for n, fam in enumerate(TOPOLOGY.families):
        want = route(fam, on_time, 3)
        for part in range(3):
            events_there = want.get(part, [])
            expected = [
                repr(sorted((k, v) for k, v in e.items() if v is not None)) for e in events_there
            ]
            assert bodies_events(out.routed[n][part]) == expected
            assert len(out.routed[n][part]) == len(encode_batch(0, 0, events_there, limit=512))
        assert out.family_late[n] == [len(idxs) for idxs, _, _ in select(fam)(late)]
    cut = CoreEngine(TOPOLOGY.direct, settings)
    cut.route_to(ROUTES, 3, 512, "json")
    alerts = [a for lo, hi in [(0, 1), (1, 2_500), (2_500, 5_000)]
              for a in cut.process(records[lo:hi]).alerts]  # fmt: skip
    assert out.alerts and out.alerts == alerts
