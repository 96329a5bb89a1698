"""Random page streams for the property tests: triggers and resolves of a few pages about two
orgs (at org, account and key level, with side entities and pages without any), in an order
that is mostly but not always event-time order, with repeats of earlier messages."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from alerting.pager import PagerMessage
from tests.unit.alerting.incidents.pages import MIN, page

PAGES: list[tuple[str, dict[str, Any]]] = [
    ("org_rate", {"org": "o1"}),
    ("org_errors", {"org": "o1"}),
    ("acct_rate", {"org": "o1", "acct": "a1"}),
    ("key_burst", {"org": "o1", "key": "k1"}),
    ("key_burst", {"org": "o1", "key": "k2"}),
    ("key_burst", {"org": "o1", "key": "k3"}),
    ("key_burst", {"org": "o1", "key": "k4"}),
    ("key_ip", {"org": "o1", "key": "k3", "ip": "203.0.113.9"}),
    ("key_ip", {"org": "o1", "acct": "a1", "key": "k1", "ip": "203.0.113.9"}),
    ("org_rate", {"org": "o2"}),
    ("key_burst", {"org": "o2", "key": "k1"}),
    ("ip_fanout", {"ip": "203.0.113.9"}),
    ("plain", {}),
]

# (which page, minutes since the previous message (negative: out of order), what to do)
STEP = st.tuples(st.integers(0, len(PAGES) - 1), st.integers(-3, 20), st.integers(0, 9))


def stream(steps: list[tuple[int, int, int]], repeats: bool = True) -> list[PagerMessage]:
    """What to do: 0-3 a trigger; 4-6 a resolve if the page fires, else a trigger; 7 a resolve
    whether or not it fires; 8-9 the message 1 or 2 back again (with `repeats`)."""
    out: list[PagerMessage] = []
    firing: set[int] = set()
    at = 0
    for which, gap, what in steps:
        if what >= 8:
            if repeats and len(out) >= what - 7:
                out.append(out[-(what - 7)])
            continue
        at = max(0, at + gap * MIN)
        resolve = what == 7 or (what >= 4 and which in firing)
        rule, values = PAGES[which]
        out.append(page("resolve" if resolve else "trigger", rule, at, **values))
        (firing.discard if resolve else firing.add)(which)
    return out
