"""Incidents in the store: written from the pages' `custom_details.incident`, read for the console.

The bridge's correlator decides incidents (alerting.incidents); the store keeps what the pages it
delivers say of them. A message with an incident writes, in the transaction that stores it:
- `incidents`, one row per incident id: its root, when it opened, the bridge's count of its
  pages, and its state: open while the message says pages still fire (`firing` > 0), resolved
  by the message that says none does (its event time is `resolved_at`). Resolved is for good,
  as in the correlator: a message read late never opens it again, and the count only grows.
- `incident_pages`, one row per (incident, episode): the status of the episode's latest message
  there (by event time; at a tie, a resolve's), the parent page it was absorbed by, and when it
  joined (its first message there).
So a message read late (out of order) leaves the rows as the later ones made them, and a message
stored twice is a duplicate (alerting.store.record) that writes nothing.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace

from alerting.store.db import Row, Tx
from alerting.store.model import (
    BadCursor,
    IncidentDetail,
    IncidentEntity,
    IncidentFilter,
    IncidentList,
    IncidentPage,
    PageIncident,
    StoredIncident,
)
from alerting.store.queries import MAX_LIMIT, PAGE_COLUMNS, PAGE_WIDTH, page_of
from alerting.store.rows import IncidentRow, MessageRow

# The statuses a resolve gives: of two messages of one page at one event time, it is the later.
_RESOLVES = "('page_resolved', 'resolved', 'alone')"
_UPSERT_INCIDENT = (
    "INSERT INTO incidents (id, root_name, root_value, root_ref, state, opened_at, resolved_at,"
    " pages, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET"
    " state = CASE WHEN incidents.state = 'resolved' THEN 'resolved' ELSE excluded.state END,"
    " resolved_at = CASE WHEN incidents.resolved_at IS NULL THEN excluded.resolved_at"
    "  WHEN excluded.resolved_at > incidents.resolved_at THEN excluded.resolved_at"
    "  ELSE incidents.resolved_at END,"
    " pages = CASE WHEN excluded.pages > incidents.pages THEN excluded.pages"
    "  ELSE incidents.pages END,"
    " updated_at = excluded.updated_at"
)
_UPSERT_PAGE = (
    "INSERT INTO incident_pages (incident_id, page_id, dedup_key, status, absorbed_by,"
    " joined_at, last_event_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (incident_id, page_id) DO UPDATE SET"
    " status = CASE WHEN excluded.last_event_at > incident_pages.last_event_at"
    "  OR (excluded.last_event_at = incident_pages.last_event_at"
    f"  AND excluded.status IN {_RESOLVES}) THEN excluded.status ELSE incident_pages.status END,"
    " absorbed_by = COALESCE(incident_pages.absorbed_by, excluded.absorbed_by),"
    " joined_at = CASE WHEN excluded.joined_at < incident_pages.joined_at THEN excluded.joined_at"
    "  ELSE incident_pages.joined_at END,"
    " last_event_at = CASE WHEN excluded.last_event_at > incident_pages.last_event_at"
    "  THEN excluded.last_event_at ELSE incident_pages.last_event_at END"
)
MAX_ID = 2**63  # above every page id
_INCIDENT_COLUMNS = (
    "i.id, i.root_name, i.root_value, i.root_ref, i.state, i.opened_at, i.resolved_at, i.pages,"
    " i.updated_at"
)


def record_incident(tx: Tx, inc: IncidentRow, page_id: int, row: MessageRow, now_ms: int) -> None:
    """The incident of a message just stored into episode `page_id`."""
    resolved_at = row.event_at if inc.state == "resolved" else None
    tx.execute(
        _UPSERT_INCIDENT,
        (inc.id, inc.root_name, inc.root_value, inc.root_ref, inc.state, inc.opened_at,
         resolved_at, inc.pages, now_ms),
    )  # fmt: skip
    tx.execute(
        _UPSERT_PAGE,
        (inc.id, page_id, row.dedup_key, inc.status, inc.absorbed_by, row.event_at, row.event_at),
    )


def purge_incidents(tx: Tx) -> int:
    """Delete the incidents none of whose episodes is left (retention deleted them)."""
    return tx.execute(
        "DELETE FROM incidents WHERE NOT EXISTS"
        " (SELECT 1 FROM incident_pages ip WHERE ip.incident_id = incidents.id)"
    )


# -- reading -----------------------------------------------------------------------------------
def encode_cursor(incident: StoredIncident) -> str:
    return f"{incident.opened_at}.{incident.id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    at, _, incident_id = cursor.partition(".")
    try:
        return int(at), incident_id
    except ValueError:
        raise BadCursor("not an incident cursor") from None


def list_incidents(tx: Tx, where: IncidentFilter, limit: int, after: str | None) -> IncidentList:
    """Newest first by (opened_at, id), keyset paged as the page list is."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: 1 to {MAX_LIMIT}")
    clauses: list[str] = []
    params: list[object] = []
    if where.state is not None:
        clauses.append("i.state = ?")
        params.append(where.state)
    if where.root_name is not None:
        clauses.append("i.root_name = ?")
        params.append(where.root_name)
    if after is not None:
        at, incident_id = decode_cursor(after)
        clauses.append("(i.opened_at < ? OR (i.opened_at = ? AND i.id < ?))")
        params.extend((at, at, incident_id))
    sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents i"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY i.opened_at DESC, i.id DESC LIMIT ?"
    rows = tx.all(sql, (*params, limit + 1))
    found = [_incident(r) for r in rows[:limit]]
    rules = _rules(tx, [i.id for i in found])
    incidents = tuple(replace(i, rules=rules.get(i.id, ())) for i in found)
    return IncidentList(incidents, encode_cursor(incidents[-1]) if len(rows) > limit else None)


def incident_roots(tx: Tx) -> tuple[str, ...]:
    """The root fields incidents have, for the list's filter."""
    rows = tx.all("SELECT DISTINCT root_name FROM incidents ORDER BY root_name")
    return tuple(r[0] for r in rows)


def incident_detail(tx: Tx, incident_id: str) -> IncidentDetail | None:
    row = tx.one(f"SELECT {_INCIDENT_COLUMNS} FROM incidents i WHERE i.id = ?", (incident_id,))
    if row is None:
        return None
    rows = tx.all(
        f"SELECT {PAGE_COLUMNS}, ip.status, ip.absorbed_by, ip.joined_at"
        " FROM incident_pages ip JOIN pages p ON p.id = ip.page_id"
        " WHERE ip.incident_id = ? ORDER BY ip.joined_at, p.id",
        (incident_id,),
    )
    pages = [(page_of(r), r[PAGE_WIDTH], r[PAGE_WIDTH + 1], int(r[PAGE_WIDTH + 2])) for r in rows]
    joined: dict[str, list[tuple[int, int]]] = {}  # dedup key -> (joined_at, page id), in order
    for p, _, _, at in pages:
        joined.setdefault(p.dedup_key, []).append((at, p.id))
    members = tuple(
        IncidentPage(p, status, parent, _parent_page(joined, parent, at), at)
        for p, status, parent, at in pages
    )
    rules = tuple(sorted({p.rule_id for p, *_ in pages}))
    return IncidentDetail(replace(_incident(row), rules=rules), members, _entities(tx, incident_id))


def _parent_page(
    joined: dict[str, list[tuple[int, int]]], dedup_key: str | None, at: int
) -> int | None:
    """The episode of `dedup_key` that had joined by `at`, the latest such: the one that fired
    when it absorbed a page at `at`."""
    episodes = joined.get(dedup_key or "", [])
    n = bisect_right(episodes, (at, MAX_ID))
    return episodes[n - 1][1] if n else None


def page_incidents(tx: Tx, page_id: int) -> tuple[PageIncident, ...]:
    """The incidents episode `page_id` is part of, oldest first."""
    rows = tx.all(
        "SELECT i.id, i.root_name, i.root_value, i.state, ip.status"
        " FROM incident_pages ip JOIN incidents i ON i.id = ip.incident_id"
        " WHERE ip.page_id = ? ORDER BY i.opened_at, i.id",
        (page_id,),
    )
    return tuple(PageIncident(*r) for r in rows)


def _incident(row: Row) -> StoredIncident:
    return StoredIncident(
        row[0], row[1], row[2], row[3], row[4], int(row[5]),
        None if row[6] is None else int(row[6]), int(row[7]), int(row[8]),
    )  # fmt: skip


def _rules(tx: Tx, incident_ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not incident_ids:
        return {}
    marks = ", ".join("?" for _ in incident_ids)
    rows = tx.all(
        "SELECT DISTINCT ip.incident_id, p.rule_id FROM incident_pages ip"
        f" JOIN pages p ON p.id = ip.page_id WHERE ip.incident_id IN ({marks})"
        " ORDER BY ip.incident_id, p.rule_id",
        incident_ids,
    )
    out: dict[str, list[str]] = {}
    for incident_id, rule_id in rows:
        out.setdefault(incident_id, []).append(rule_id)
    return {k: tuple(v) for k, v in out.items()}


@dataclass(slots=True)
class _Named:
    pages: set[int] = field(default_factory=set)
    grouped: bool = False


def _entities(tx: Tx, incident_id: str) -> tuple[IncidentEntity, ...]:
    """The union of the entities its episodes name: fields top-down (each at the earliest place
    a page gives it), then those no page orders (group values that are no entity) by name;
    within a field, the values more pages name first."""
    rows = tx.all(
        "SELECT e.name, e.value, e.source, e.ordinal, e.page_id FROM page_entities e"
        " JOIN incident_pages ip ON ip.page_id = e.page_id WHERE ip.incident_id = ?",
        (incident_id,),
    )
    named: dict[tuple[str, str], _Named] = {}
    place: dict[str, int] = {}
    for name, value, source, ordinal, page_id in rows:
        seen = named.setdefault((name, value), _Named())
        seen.pages.add(int(page_id))
        seen.grouped = seen.grouped or source == "group"
        if ordinal is not None:
            place[name] = min(place.get(name, int(ordinal)), int(ordinal))
    unordered = max(place.values(), default=-1) + 1

    def order(item: tuple[tuple[str, str], _Named]) -> tuple[int, str, int, str]:
        (name, value), seen = item
        return (place.get(name, unordered), name, -len(seen.pages), value)

    return tuple(
        IncidentEntity(name, value, len(seen.pages), seen.grouped)
        for (name, value), seen in sorted(named.items(), key=order)
    )
