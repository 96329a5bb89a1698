"""What the correlator counted, for metrics: plain numbers, labelled only by fixed sets."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from alerting.incidents.model import WHATS, What

# Upper bounds of the pages-per-incident buckets (an incident's pages when it resolves); one more
# bucket holds the larger ones.
PAGES_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100)


@dataclass(slots=True)
class Counters:
    opened: int = 0  # incidents opened
    resolved: int = 0  # incidents resolved
    absorbed: int = 0  # pages absorbed by a firing parent page
    dropped: int = 0  # open incidents dropped by the cap
    decisions: dict[What, int] = field(default_factory=lambda: dict.fromkeys(WHATS, 0))
    # Pages of each resolved incident: counts per PAGES_BUCKETS bucket (not cumulative; the last
    # is above the largest bound), and their sum.
    pages_buckets: list[int] = field(default_factory=lambda: [0] * (len(PAGES_BUCKETS) + 1))
    pages_sum: int = 0

    def count(self, what: What) -> None:
        self.decisions[what] += 1
        if what == "opened":
            self.opened += 1
        elif what == "absorbed":
            self.absorbed += 1

    def resolved_with(self, pages: int) -> None:
        self.resolved += 1
        self.pages_buckets[bisect.bisect_left(PAGES_BUCKETS, pages)] += 1
        self.pages_sum += pages
