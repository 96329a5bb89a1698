"""Incidents: one page per attack, not one per rule.

A `Correlator` reads pager messages one at a time, in the order given, and says for each what it
does to the incidents: a `Decision`. It is pure: no I/O, no wall clock. Time is the pages' event
time (`payload.timestamp`); the highest one read so far is the correlator's clock, which only
decides what it may forget, never what it decides.

Root. A page's root is its first entity (`custom_details.root`, the top of its hierarchy); the
incident key is that entity's `ref` (`<name>/<16 hex>`, a hash of the whole value, so pages
correlate whatever their redaction). A page with no entities is alone: its key is
`page/<dedup_key>`. Pages of two roots never share an incident. An incident is open while at
least one of its pages fires; once none does it is resolved, and closed for good.

A trigger of page p (root R, event time t), with the correlation window W:
1. p's dedup key is a firing page of an incident: `updated`, in that incident (no new page for
   on-call); the incident's latest trigger becomes t if later.
2. Else an open incident of R has a firing page A whose entity refs are a strict subset of p's
   (A is about a parent of p's entities: A grouped by org, p by org and key): `absorbed` into
   A's incident, `absorbed_by` A's dedup key, however long A has fired. Of several such pages,
   the closest parent (the most entities); among equals, the one in the most recently opened
   incident, then the lowest dedup key.
3. Else an open incident of R whose latest trigger is at or after t - W: `joined` (of several,
   the most recently opened).
4. Else `opened`: a new incident, `inc_` + the first 16 hex of sha256 over the JSON of
   `[incident key, p's dedup key, t in epoch ms]`, so a backtest, the live bridge and a restart
   that rebuilds the state give it the same id.
"Most recently opened" is in the order read. A page whose resolve left it in an incident that
is still open rejoins by the same rules (2-4), as any trigger.

A resolve of page p:
- in the incident where p fires: `page_resolved`, or `resolved` when p was its last firing page
  (the incident resolves: on-call gets one resolve). The incident's resolve time is its latest
  page resolve.
- p fires nowhere (its trigger came before the correlator's history, or its incident was
  dropped): `alone`, never swallowed, with an id derived as in 4 from `page/<dedup_key>` and the
  resolve's time, so it is still delivered as a resolve.

Repeats. The same (dedup key, action, timestamp) read again gives the very decision it gave the
first time and changes nothing (the bridge reads uncommitted pages again after a crash), as long
as it comes within W of the clock after the first (decisions are remembered until the clock is
more than W past their time).

Bounded memory. At most N open incidents: past it, the oldest-opened one is dropped (counted;
`Decision.dropped` names it; its pages' later resolves come out `alone`). A resolved incident
is kept (for `Correlator.incident`) until the clock is more than W past its resolve. Remembered
decisions and resolved incidents are each bounded by N as well, the oldest forgotten first.

State. `Correlator.save()` writes it as versioned JSON and `Correlator.restore()` reads it back;
replaying the same messages into a new correlator builds the same state. Either way the later
decisions are those of a correlator that never stopped.
"""

from alerting.incidents.correlator import DEFAULT_MAX_OPEN, DEFAULT_WINDOW_MS, Correlator
from alerting.incidents.counters import PAGES_BUCKETS, Counters
from alerting.incidents.history import History
from alerting.incidents.model import (
    WHATS,
    Decision,
    Incident,
    Member,
    Root,
    What,
    incident_id,
    merge_entities,
    page_time,
    root_of,
)
from alerting.incidents.snapshot import VERSION, SnapshotError

__all__ = [
    "DEFAULT_MAX_OPEN",
    "DEFAULT_WINDOW_MS",
    "PAGES_BUCKETS",
    "VERSION",
    "WHATS",
    "Correlator",
    "Counters",
    "Decision",
    "History",
    "Incident",
    "Member",
    "Root",
    "SnapshotError",
    "What",
    "incident_id",
    "merge_entities",
    "page_time",
    "root_of",
]
