"""The triage facts of the episodes started in a time range: one row per episode, for the
rule-quality table (alerting.quality). One query; every column is portable SQL."""

from __future__ import annotations

from alerting.store.db import Tx
from alerting.store.model import TriageFact

_FACTS = (
    "SELECT p.id, p.rule_id, p.severity, p.started_at,"
    " (SELECT a.at FROM acknowledgements a WHERE a.page_id = p.id),"
    " (SELECT MIN(v.at) FROM verdicts v WHERE v.page_id = p.id),"
    # Ids grow with every verdict: the highest is the one that stands (as the console shows).
    " (SELECT v.verdict FROM verdicts v WHERE v.page_id = p.id ORDER BY v.id DESC LIMIT 1)"
    " FROM pages p WHERE p.started_at >= ? AND p.started_at < ?"
    " ORDER BY p.rule_id, p.started_at, p.id"
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
        )
        for r in tx.all(_FACTS, (since_ms, until_ms))
    ]
