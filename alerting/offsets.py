"""Which pager-topic offset the bridge may commit: the first one some sink still owes.

Messages fan out to several sinks that finish out of order (one may be retrying while another
moves on). A partition's commit point is its oldest unfinished offset, so a crash re-delivers
what was not yet delivered or dead-lettered, and never skips it.
"""

from __future__ import annotations


class OffsetTracker:
    def __init__(self) -> None:
        # partition -> offset -> sinks still to finish; offsets arrive in increasing order, so
        # the dict's first key is the oldest unfinished one.
        self._owed: dict[int, dict[int, int]] = {}
        self._next: dict[int, int] = {}  # partition -> one past the newest offset seen

    def add(self, partition: int, offset: int, sinks: int) -> None:
        if sinks > 0:
            self._owed.setdefault(partition, {})[offset] = sinks
        self._next[partition] = offset + 1

    def done(self, partition: int, offset: int) -> None:
        owed = self._owed.get(partition)
        if owed is None or offset not in owed:
            return  # the partition was revoked meanwhile
        owed[offset] -= 1
        if owed[offset] == 0:
            del owed[offset]

    def committable(self, partition: int) -> int | None:
        """The offset to commit for `partition`, or None when nothing was seen there."""
        owed = self._owed.get(partition)
        if owed:
            return next(iter(owed))
        return self._next.get(partition)

    def partitions(self) -> list[int]:
        return list(self._next)

    def pending(self) -> int:
        return sum(len(o) for o in self._owed.values())

    def drop(self, partition: int) -> None:
        """Forget a revoked partition; its new owner resumes from the committed offset."""
        self._owed.pop(partition, None)
        self._next.pop(partition, None)
