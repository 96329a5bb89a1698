"""The triage facts of the episodes started in a time range: one row per episode, for the
rule-quality table (alerting.quality). One query; every column is portable SQL."""

from __future__ import annotations

from dataclasses import replace

from alerting.store.db import Tx
from alerting.store.model import EntityEpisode, TriageFact

_FACTS = (
    "SELECT p.id, p.rule_id, p.severity, p.started_at,"
    " (SELECT a.at FROM acknowledgements a WHERE a.page_id = p.id),"
    " (SELECT MIN(v.at) FROM verdicts v WHERE v.page_id = p.id),"
    # Ids grow with every verdict: the highest is the one that stands (as the console shows).
    " (SELECT v.verdict FROM verdicts v WHERE v.page_id = p.id ORDER BY v.id DESC LIMIT 1),"
    " p.stored_at, p.held"
    " FROM pages p WHERE p.started_at >= ? AND p.started_at < ?"
    " ORDER BY p.rule_id, p.started_at, p.id"
)
_EPISODES = (
    "SELECT p.id, p.rule_id, p.started_at, COALESCE(p.resolved_at, p.last_event_at),"
    " (SELECT v.verdict FROM verdicts v WHERE v.page_id = p.id ORDER BY v.id DESC LIMIT 1),"
    " e.name, e.value"
    # The group's values: what a shadow page and a judged page can be found to share.
    " FROM pages p LEFT JOIN page_entities e ON e.page_id = p.id AND e.source = 'group'"
    " WHERE p.started_at < ? AND COALESCE(p.resolved_at, p.last_event_at) >= ? AND {held}"
    " ORDER BY p.id"
)


def triage_facts(tx: Tx, since_ms: int, until_ms: int) -> list[TriageFact]:
    if since_ms > until_ms:
        raise ValueError("since is after until")
    return [
        TriageFact(
            page_id=int(r[0]),
            rule_id=r[1],
            severity=r[2],
            started_at=int(r[3]),
            acknowledged_at=None if r[4] is None else int(r[4]),
            first_verdict_at=None if r[5] is None else int(r[5]),
            verdict=r[6],
            paged_at=int(r[7]),
            held=r[8],
        )
        for r in tx.all(_FACTS, (since_ms, until_ms))
    ]


def entity_episodes(tx: Tx, since_ms: int, until_ms: int, *, shadow: bool) -> list[EntityEpisode]:
    """Episodes whose span meets [since, until): a shadow rule's (`shadow`), or the others
    (paged or snoozed), with their entities."""
    held = "p.held = 'shadow'" if shadow else "(p.held IS NULL OR p.held <> 'shadow')"
    found: dict[int, EntityEpisode] = {}
    entities: dict[int, set[tuple[str, str]]] = {}
    for r in tx.all(_EPISODES.format(held=held), (until_ms, since_ms)):
        page_id = int(r[0])
        if page_id not in found:
            found[page_id] = EntityEpisode(page_id, r[1], int(r[2]), int(r[3]), frozenset(), r[4])
            entities[page_id] = set()
        if r[5] is not None:
            entities[page_id].add((r[5], r[6]))
    return [replace(e, entities=frozenset(entities[e.page_id])) for e in found.values()]
