"""A family partition in the compiled core against the worker's Python merge: the same records
(from several input partitions, with their watermarks, some late, some not repartition records
at all), cut into steps at random, give the same alerts, dead letters and released events."""

from __future__ import annotations

from itertools import pairwise

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from tests.reference.detectors import spec_for
from tests.reference.engine import Engine
from tests.reference.filters import Selector
from tests.unit.core.reference_merge import Merger
from tests.unit.core.reference_routing import BadBatch, decode_batch
from tests.unit.core.scripts import event
from tests.unit.helpers import base_rule

RULES = [
    base_rule({"type": "match"}, id="by_ip", group_by=["ip"], where={"status": {"gte": 429}}),
    base_rule(
        {"type": "match"},
        id="by_account",
        group_by=["account_id"],
        throttle="20s",
        resolve_after="30s",
        evidence={"top": ["ip"]},
    ),
]
LATENESS = 5_000


@st.composite
def forwarded(draw: st.DrawFn) -> tuple[int, list[bytes], list[int]]:
    """(sources, record values in arrival order, cuts into steps)."""
    sources = draw(st.integers(1, 3))
    clocks = [draw(st.integers(0, 10_000)) for _ in range(sources)]
    values: list[bytes] = []
    n = 0
    for _ in range(draw(st.integers(1, 40))):
        if draw(st.integers(0, 25)) == 0:
            values.append(
                draw(
                    st.sampled_from(
                        [
                            b"{",
                            b'{"source": 0}',
                            b'{"source":0,"watermark":1,"events":[{"ts":"x"}]}',
                        ]
                    )
                )
            )
            continue
        src = draw(st.integers(0, sources - 1))
        events = []
        for _ in range(draw(st.integers(0, 4))):
            clocks[src] += draw(st.integers(0, 3_000))
            ts = clocks[src] - draw(st.sampled_from([0, 0, 0, 2_000, 4_000, 30_000]))
            e = draw(event(n, max(0, ts)))
            e["ts"] = max(0, ts)
            n += 1
            events.append(e)
        watermark = clocks[src] - LATENESS
        values.append(orjson.dumps({"source": src, "watermark": watermark, "events": events}))
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=6)))
    return sources, values, cuts


def steps(values: list[bytes], cuts: list[int]) -> list[list[tuple[int, bytes]]]:
    bounds = [0, *cuts, len(values)]
    numbered = list(enumerate(values))
    return [numbered[a:b] for a, b in pairwise(bounds) if b > a]


@settings(max_examples=150, deadline=None)
@given(forwarded())
def test_merge_matches_the_python_worker(case: tuple[int, list[bytes], list[int]]) -> None:
    sources, values, cuts = case
    settings_ = EngineSettings(allowed_lateness_ms=LATENESS)
    ref, merger = Engine(RULES, settings_), Merger(sources)
    select = Selector([spec_for(r) for r in RULES])
    core = CoreEngine(RULES, settings_)
    core.merge_from(sources)
    ref_late = [0] * len(RULES)
    for step in steps(values, cuts):
        want, dead = [], []
        for n, (offset, value) in enumerate(step):
            try:
                batch = decode_batch(value)
            except BadBatch:
                dead.append(n)
                continue
            late = merger.add_record(batch.events, offset, merger.frontier)
            for r, (idxs, _, _) in enumerate(select(late) if late else []):
                ref_late[r] += len(idxs)
            merger.mark(batch.source, batch.watermark)
        released = merger.release()
        if released:
            want += ref.process(released)
        frontier = merger.frontier
        if frontier is not None and frontier > ref.now:
            want += ref.advance(frontier)
        got = core.process_forwarded(step)
        assert repr(got.alerts) == repr(want)
        assert [d.index for d in got.dead_letters] == dead
        assert got.released == len(released)
        next_offset = step[-1][0] + 1
        assert core.safe_offset(next_offset) == merger.safe_offset(next_offset)
        assert core.frontier == merger.frontier
    assert [c.late for c in core.counts()] == ref_late
