"""Writing one pager message: idempotent, and folded into its dedup key's episode.

A message already stored (same dedup key, action and event time) changes nothing. Otherwise a
trigger opens an episode, or repeats into the open one; a resolve closes the open episode, or,
when none is open (its trigger is older than the retention, or was never seen, or not yet), is
stored as an episode of its own, resolved from the start, which its trigger completes if it
comes later. Every stored message adds the entities its episode has not named yet (a later
trigger may name a parent the first did not), and, when it carries `custom_details.incident`,
its incident and its place there (alerting.store.incidents). The whole message is one
transaction.
"""

from __future__ import annotations

from alerting.store.db import Tx
from alerting.store.incidents import record_incident
from alerting.store.model import Recorded
from alerting.store.rows import MessageRow

_PAGE_COLUMNS = (
    "dedup_key, rule_id, rule_version, rule_title, detector, severity, summary, group_text, "
    "state, started_at, resolved_at, last_event_at, triggers, details, stored_at, updated_at, held"
)


def record_row(tx: Tx, row: MessageRow, now_ms: int) -> Recorded:
    found = tx.one(
        "SELECT id, page_id FROM messages"
        " WHERE dedup_key = ? AND event_action = ? AND event_at = ?",
        row.key,
    )
    if found is not None:
        return Recorded("duplicate", int(found[1]), int(found[0]))
    open_row = tx.one(
        "SELECT id FROM pages WHERE dedup_key = ? AND state = 'triggered'", (row.dedup_key,)
    )
    waiting = None if open_row is not None else _resolve_waiting_for(tx, row)
    if waiting is not None:
        page_id = waiting
        _adopt_trigger(tx, page_id, row, now_ms)
    elif open_row is None:
        page_id = _new_episode(tx, row, now_ms)
    else:
        page_id = int(open_row[0])
        _continue_episode(tx, page_id, row, now_ms)
    message_id = tx.insert(
        "INSERT INTO messages (page_id, dedup_key, event_action, event_at, stored_at, summary,"
        " body) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (page_id, *row.key, now_ms, row.summary, row.body),
    )
    _add_entities(tx, page_id, row)
    if row.incident is not None:
        record_incident(tx, row.incident, page_id, row, now_ms)
    return Recorded("stored", page_id, message_id)


def _add_entities(tx: Tx, page_id: int, row: MessageRow) -> None:
    for e in row.entities:
        tx.execute(
            "INSERT INTO page_entities (page_id, name, value, source, ordinal)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (page_id, name) DO NOTHING",
            (page_id, e.name, e.value, e.source, e.ordinal),
        )


def _resolve_waiting_for(tx: Tx, row: MessageRow) -> int | None:
    """An episode stored from its resolve alone whose trigger this is: the trigger came later.

    A snoozed trigger travels on the shadow topic and its resolve on the pager topic, read by
    two consumers, so the resolve can be stored first; the trigger then completes its episode
    instead of opening one that would never resolve.
    """
    if row.event_action != "trigger":
        return None
    found = tx.one(
        "SELECT id FROM pages WHERE dedup_key = ? AND state = 'resolved' AND triggers = 0"
        " AND resolved_at >= ? ORDER BY resolved_at, id LIMIT 1",
        (row.dedup_key, row.event_at),
    )
    return None if found is None else int(found[0])


def _adopt_trigger(tx: Tx, page_id: int, row: MessageRow, now_ms: int) -> None:
    # The resolve stays the latest message (its summary says what cleared); the trigger brings
    # the start, the evidence and why it was held.
    tx.execute(
        "UPDATE pages SET triggers = 1, started_at = ?, details = ?, severity = ?, held = ?,"
        " updated_at = ? WHERE id = ?",
        (row.event_at, row.details, row.severity, row.held, now_ms, page_id),
    )


def _new_episode(tx: Tx, row: MessageRow, now_ms: int) -> int:
    trigger = row.event_action == "trigger"
    page_id = tx.insert(
        f"INSERT INTO pages ({_PAGE_COLUMNS}) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            row.dedup_key, row.rule_id, row.rule_version, row.rule_title, row.detector,
            row.severity, row.summary, row.group_text,
            "triggered" if trigger else "resolved",
            row.event_at, None if trigger else row.event_at, row.event_at,
            1 if trigger else 0, row.details, now_ms, now_ms, row.held,
        ),
    )  # fmt: skip
    return page_id


def _continue_episode(tx: Tx, page_id: int, row: MessageRow, now_ms: int) -> None:
    if row.event_action == "trigger":
        # A repeat (a worker restarted, or re-sent): the newest evidence is what the page shows.
        tx.execute(
            "UPDATE pages SET triggers = triggers + 1, summary = ?, severity = ?, details = ?,"
            " rule_version = ?, rule_title = ?,"
            " last_event_at = CASE WHEN last_event_at > ? THEN last_event_at ELSE ? END,"
            " updated_at = ? WHERE id = ?",
            (row.summary, row.severity, row.details, row.rule_version, row.rule_title,
             row.event_at, row.event_at, now_ms, page_id),
        )  # fmt: skip
    else:
        # The resolve's summary says what cleared; the trigger's evidence stays in `details`.
        tx.execute(
            "UPDATE pages SET state = 'resolved', resolved_at = ?, summary = ?,"
            " last_event_at = CASE WHEN last_event_at > ? THEN last_event_at ELSE ? END,"
            " updated_at = ? WHERE id = ?",
            (row.event_at, row.summary, row.event_at, row.event_at, now_ms, page_id),
        )
