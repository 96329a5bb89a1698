"""Reading pages back: filtered lists with keyset paging, and one page's whole episode.

Lists are newest first by (started_at, id). A cursor names the last page shown, so the next
request starts strictly after it: no page is skipped or shown twice while new ones arrive, and
no query gets slower the deeper it pages (no OFFSET).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

import orjson

from alerting.store.db import Row, Tx
from alerting.store.model import (
    Acknowledgement,
    BadCursor,
    Page,
    PageDetail,
    PageFilter,
    PageList,
    PageMessage,
    Verdict,
)

MAX_LIMIT = 500
# The columns of a `Page`, of the pages row `p`, in its fields' order.
PAGE_COLUMNS = (
    "p.id, p.dedup_key, p.rule_id, p.rule_version, p.rule_title, p.detector, p.severity,"
    " p.summary, p.group_text, p.state, p.started_at, p.resolved_at, p.last_event_at,"
    " p.triggers, p.stored_at, p.updated_at,"
    " (SELECT a.at FROM acknowledgements a WHERE a.page_id = p.id),"
    " (SELECT v.verdict FROM verdicts v WHERE v.page_id = p.id ORDER BY v.id DESC LIMIT 1),"
    " p.held"
)
PAGE_WIDTH = len(fields(Page))
_SELECT_PAGE = f"SELECT {PAGE_COLUMNS} FROM pages p"


def encode_cursor(page: Page) -> str:
    return f"{page.started_at}.{page.id}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    at, _, page_id = cursor.partition(".")
    try:
        return int(at), int(page_id)
    except ValueError:
        raise BadCursor("not a page cursor") from None


def page_of(row: Row) -> Page:
    """The `Page` of a row whose first columns are PAGE_COLUMNS."""
    return Page(*row[:PAGE_WIDTH])


def list_pages(tx: Tx, where: PageFilter, limit: int, after: str | None) -> PageList:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: 1 to {MAX_LIMIT}")
    clauses: list[str] = []
    params: list[object] = []
    if where.rule is not None:
        clauses.append("p.rule_id = ?")
        params.append(where.rule)
    if where.severity:
        clauses.append(f"p.severity IN ({', '.join('?' for _ in where.severity)})")
        params.extend(where.severity)
    if where.state is not None:
        clauses.append("p.state = ?")
        params.append(where.state)
    if where.entity is not None:
        named = " AND e.name = ?" if where.entity_name is not None else ""
        clauses.append(f"EXISTS (SELECT 1 FROM page_entities e WHERE e.page_id = p.id"
                       f" AND e.source = 'group' AND e.value = ?{named})")  # fmt: skip
        params.append(where.entity)
        if where.entity_name is not None:
            params.append(where.entity_name)
    if where.since_ms is not None:
        clauses.append("p.started_at >= ?")
        params.append(where.since_ms)
    if where.until_ms is not None:
        clauses.append("p.started_at < ?")
        params.append(where.until_ms)
    if where.delivery:
        held = [d for d in where.delivery if d != "paged"]
        either = [f"p.held IN ({', '.join('?' for _ in held)})"] if held else []
        if "paged" in where.delivery:
            either.append("p.held IS NULL")
        clauses.append(f"({' OR '.join(either)})")
        params.extend(held)
    if after is not None:
        at, page_id = decode_cursor(after)
        clauses.append("(p.started_at < ? OR (p.started_at = ? AND p.id < ?))")
        params.extend((at, at, page_id))
    sql = _SELECT_PAGE
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY p.started_at DESC, p.id DESC LIMIT ?"
    rows = tx.all(sql, (*params, limit + 1))
    pages = tuple(page_of(r) for r in rows[:limit])
    return PageList(pages, encode_cursor(pages[-1]) if len(rows) > limit else None)


def page_detail(tx: Tx, page_id: int) -> PageDetail | None:
    row = tx.one(_SELECT_PAGE + " WHERE p.id = ?", (page_id,))
    if row is None:
        return None
    details_row = tx.one("SELECT details FROM pages WHERE id = ?", (page_id,))
    assert details_row is not None
    messages = tuple(
        PageMessage(int(m[0]), m[1], int(m[2]), int(m[3]), m[4], _json(m[5]))
        for m in tx.all("SELECT id, event_action, event_at, stored_at, summary, body"
                      " FROM messages WHERE page_id = ? ORDER BY event_at, id", (page_id,))
    )  # fmt: skip
    entities: dict[str, str] = {}
    parents: dict[str, str] = {}
    for name, value, source in tx.all(
        "SELECT name, value, source FROM page_entities WHERE page_id = ?"
        " ORDER BY ordinal IS NULL, ordinal, name",
        (page_id,),
    ):
        (entities if source == "group" else parents)[name] = value
    ack = tx.one(
        "SELECT page_id, who, note, at FROM acknowledgements WHERE page_id = ?", (page_id,)
    )
    verdicts = tuple(
        Verdict(*v)
        for v in tx.all("SELECT id, page_id, verdict, note, who, at FROM verdicts"
                      " WHERE page_id = ? ORDER BY id", (page_id,))
    )  # fmt: skip
    return PageDetail(
        page=page_of(row),
        details=_json(details_row[0]),
        entities=entities,
        messages=messages,
        acknowledgement=Acknowledgement(*ack) if ack else None,
        verdicts=verdicts,
        parents=parents,
    )


def _json(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], orjson.loads(text))
