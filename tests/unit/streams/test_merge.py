"""Event-time merge of repartition partitions: release order, frontier, safe offsets."""

from streams.merge import Merger


def ev(ts):
    return {"event_id": f"e{ts}", "ts": ts, "org_id": "o"}


def frontier(m):
    # a call, so that type narrowing does not carry over between mutations
    return m.frontier


def test_nothing_released_until_every_source_reported():
    m = Merger(sources=2)
    m.add_record([ev(5)], 0)
    m.mark(0, 10)
    assert frontier(m) is None and m.release() == []
    m.mark(1, 3)
    assert frontier(m) == 3 and m.release() == []
    m.mark(1, 7)
    assert [e["ts"] for e in m.release()] == [5]


def test_release_is_in_event_time_order_across_arrival_order():
    m = Merger(sources=1)
    for offset, ts in enumerate([30, 10, 20, 40]):
        m.add_record([ev(ts)], offset)
    m.mark(0, 35)
    assert [e["ts"] for e in m.release()] == [10, 20, 30]
    assert len(m) == 1


def test_marks_never_go_back():
    m = Merger(sources=1)
    m.mark(0, 10)
    m.mark(0, 5)
    assert frontier(m) == 10


def test_safe_offset_is_the_oldest_record_still_buffered():
    m = Merger(sources=1)
    for offset, ts in enumerate([30, 10, 20]):
        m.add_record([ev(ts)], offset + 100)
    assert m.safe_offset(103) == 100
    m.mark(0, 25)
    m.release()  # 10 (offset 101) and 20 (offset 102) leave; 30 (offset 100) stays
    assert m.safe_offset(103) == 100
    m.mark(0, 30)
    m.release()
    assert m.safe_offset(103) == 103


def test_equal_times_leave_in_arrival_order_across_records():
    m = Merger(sources=1)
    m.add_record([{"event_id": "a2", "ts": 20}, {"event_id": "a1", "ts": 10}], 0)
    m.add_record([{"event_id": "b1", "ts": 10}, {"event_id": "b2", "ts": 20}], 1)
    m.add_record([{"event_id": "c3", "ts": 30}], 2)
    m.mark(0, 25)
    assert [e["event_id"] for e in m.release()] == ["a1", "b1", "a2", "b2"]
    assert len(m) == 1 and m.safe_offset(3) == 2


def test_a_snapshot_of_the_heap_based_merger_restores_in_the_same_order():
    import pickle

    m = Merger.__new__(Merger)
    # the attributes the previous merger pickled: a heap of (ts, seq, offset, event)
    heap = [(30, 3, 7, ev(30)), (10, 1, 5, ev(10)), (20, 2, 7, ev(20))]
    m.__setstate__({"sources": 1, "marks": {0: 0}, "heap": heap, "arrivals": [5, 7],
                    "unreleased": {5: 1, 7: 2}, "_seq": 3})  # fmt: skip
    back = pickle.loads(pickle.dumps(m))
    assert back.safe_offset(8) == 5 and len(back) == 3
    back.mark(0, 25)
    assert [e["ts"] for e in back.release()] == [10, 20]
    assert back.safe_offset(8) == 7
