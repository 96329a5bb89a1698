"""The commit point is the oldest offset some sink still owes."""

from alerting.offsets import OffsetTracker


def test_commit_waits_for_the_slowest_sink_of_the_oldest_message():
    t = OffsetTracker()
    assert t.committable(0) is None
    t.add(0, 10, 2)
    t.add(0, 11, 1)
    t.add(0, 12, 0)  # routed nowhere / dead-lettered at once
    assert t.committable(0) == 10
    t.done(0, 11)
    assert t.committable(0) == 10  # 10 still owed by two sinks
    t.done(0, 10)
    assert t.committable(0) == 10
    t.done(0, 10)
    assert t.committable(0) == 13 and t.pending() == 0


def test_partitions_are_independent_and_revoked_ones_forgotten():
    t = OffsetTracker()
    t.add(0, 5, 1)
    t.add(1, 7, 1)
    t.done(1, 7)
    assert (t.committable(0), t.committable(1)) == (5, 8)
    t.drop(0)
    t.done(0, 5)  # a late finish for a revoked partition is ignored
    assert t.committable(0) is None and t.partitions() == [1]
