"""A family partition's event-time merge (in the compiled core): release order, frontier,
safe offsets. Each released event pages once (a `match` rule grouped by event id), so the pages
show what was released, in order."""

import orjson

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from tests.unit.helpers import base_rule

EVERY_EVENT = base_rule({"type": "match"}, group_by=["event_id"])


def merger(sources: int) -> CoreEngine:
    engine = CoreEngine([EVERY_EVENT], EngineSettings(allowed_lateness_ms=0))
    engine.merge_from(sources)
    return engine


def record(source: int, watermark: int, *events: tuple[str, int]) -> bytes:
    body = [{"event_id": eid, "ts": ts, "org_id": "o"} for eid, ts in events]
    return orjson.dumps({"source": source, "watermark": watermark, "events": body})


def frontier(engine: CoreEngine) -> int | None:
    # a call, so that type narrowing does not carry over between steps
    return engine.frontier


def released(engine: CoreEngine, *records: tuple[int, bytes]) -> list[str]:
    out = engine.process_forwarded(list(records))
    assert not out.dead_letters
    return [a.group[0][1] for a in out.alerts]


def test_nothing_released_until_every_source_reported() -> None:
    m = merger(2)
    assert released(m, (0, record(0, 10, ("e5", 5)))) == []
    assert frontier(m) is None
    assert released(m, (1, record(1, 3))) == []
    assert frontier(m) == 3
    assert released(m, (2, record(1, 7))) == ["e5"]


def test_release_is_in_event_time_order_across_arrival_order() -> None:
    m = merger(1)
    records = [(n, record(0, -100, (f"e{ts}", ts))) for n, ts in enumerate([30, 10, 20, 40])]
    assert released(m, *records) == []
    assert released(m, (4, record(0, 35))) == ["e10", "e20", "e30"]
    assert m.safe_offset(5) == 3  # e40 still waits


def test_marks_never_go_back() -> None:
    m = merger(1)
    released(m, (0, record(0, 10)), (1, record(0, 5)))
    assert m.frontier == 10


def test_safe_offset_is_the_oldest_record_still_buffered() -> None:
    m = merger(1)
    records = [(100 + n, record(0, -100, (f"e{ts}", ts))) for n, ts in enumerate([30, 10, 20])]
    released(m, *records)
    assert m.safe_offset(103) == 100
    assert released(m, (103, record(0, 25))) == ["e10", "e20"]
    assert m.safe_offset(104) == 100  # e30 (offset 100) stays
    assert released(m, (104, record(0, 30))) == ["e30"]
    assert m.safe_offset(105) == 105


def test_equal_times_leave_in_arrival_order_across_records() -> None:
    m = merger(1)
    out = released(
        m,
        (0, record(0, -1, ("a2", 20), ("a1", 10))),
        (1, record(0, -1, ("b1", 10), ("b2", 20))),
        (2, record(0, -1, ("c3", 30))),
        (3, record(0, 25)),
    )
    assert out == ["a1", "b1", "a2", "b2"]
    assert m.safe_offset(4) == 2


def test_the_sources_watermarks_are_saved_and_the_buffer_is_read_again() -> None:
    m = merger(2)
    released(m, (0, record(0, 50, ("e5", 5))), (1, record(1, 2)))
    back = CoreEngine([EVERY_EVENT], EngineSettings(allowed_lateness_ms=0), m.save())
    back.merge_from(2)
    assert back.frontier == 2 and back.safe_offset(2) == 2  # nothing buffered after a restore
    # the record read again, its events after the frontier of then not yet applied
    out = back.process_forwarded([(0, record(0, 50, ("e5", 5)))], refill=(2, 2))
    assert out.released == 0
    assert released(back, (2, record(1, 9))) == ["e5"]
