"""What the console's forms and query strings say, checked: filters, snooze spans, notes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from alerting.store import Delivery, IncidentFilter, IncidentState, PageFilter
from signalfire.durations import DurationError, format_duration_ms, parse_duration_ms

MAX_NOTE = 2000
STATES = ("triggered", "resolved")
INCIDENT_STATES: tuple[IncidentState, ...] = ("open", "resolved")
MAX_NAME = 200  # a root field's name in a query string
SEVERITIES = ("critical", "error", "warning", "info")
# The list's `delivery` choices: by default what was meant for on-call (paged or snoozed);
# shadow rules' pages only when asked for, apart.
DELIVERIES: dict[str, tuple[Delivery, ...]] = {
    "": ("paged", "snoozed"),
    "paged": ("paged",),
    "snoozed": ("snoozed",),
    "shadow": ("shadow",),
    "all": (),
}


class FormError(ValueError):
    """A field the user can fix; the message names it."""


def text_field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip()[:MAX_NOTE] if isinstance(value, str) else ""


def snooze_span(value: object, max_ms: int) -> int:
    """A snooze's length (`4h`, `2d`), at most `max_ms`."""
    if not isinstance(value, str) or not value.strip():
        raise FormError("for: how long, e.g. 4h or 2d")
    try:
        ms = parse_duration_ms(value)
    except DurationError as exc:
        raise FormError(f"for: {exc}") from None
    if not 0 < ms <= max_ms:
        raise FormError(f"for: more than zero and at most {format_duration_ms(max_ms)}")
    return ms


def page_filter(query: Mapping[str, str]) -> PageFilter:
    """The page list's filters from its query string; blanks are no filter."""
    state = query.get("state") or None
    if state is not None and state not in STATES:
        raise FormError(f"state: one of {', '.join(STATES)}")
    severity = query.get("severity") or None
    if severity is not None and severity not in SEVERITIES:
        raise FormError(f"severity: one of {', '.join(SEVERITIES)}")
    delivery = query.get("delivery") or ""
    if delivery not in DELIVERIES:
        raise FormError(f"delivery: one of {', '.join(d for d in DELIVERIES if d)}")
    return PageFilter(
        delivery=DELIVERIES[delivery],
        rule=query.get("rule") or None,
        severity=(severity,) if severity else (),
        state=state,  # type: ignore[arg-type]  # checked against STATES above
        entity=query.get("entity") or None,
        since_ms=_time(query, "since"),
        until_ms=_time(query, "until"),
    )


def incident_filter(query: Mapping[str, str]) -> IncidentFilter:
    """The incident list's filters from its query string: state, the root's field."""
    state = query.get("state") or None
    if state is not None and state not in INCIDENT_STATES:
        raise FormError(f"state: one of {', '.join(INCIDENT_STATES)}")
    root = (query.get("root") or "").strip()
    if len(root) > MAX_NAME:
        raise FormError(f"root: a field name of at most {MAX_NAME} characters")
    return IncidentFilter(
        state=state,  # checked against INCIDENT_STATES above
        root_name=root or None,
    )


def _time(query: Mapping[str, str], name: str) -> int | None:
    """A day (2026-11-23) or a time (2026-11-23T08:00, UTC unless it gives its offset)."""
    text = (query.get(name) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(f"{name}: a date or time like 2026-11-23 or 2026-11-23T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
