"""Alertmanager API v2 (`POST /api/v2/alerts`).

Alertmanager expects its clients to re-send firing alerts: an alert it has not heard of for
longer than its `endsAt` is resolved. So the sink keeps the alerts it delivered: each firing one
is sent with `endsAt` = now + a lease of four re-send intervals and re-sent every interval
(Prometheus does the same), and a resolved one is re-sent with its `endsAt` for a while, so an
Alertmanager that missed the first resolve (restarted, another HA peer) still hears of it.

Labels: `alertname` and `rule` (the rule id), `severity`, `dedup_key`, `source`, the rule's
labels, and the group values the bridge's redaction leaves visible (dots become underscores);
with incidents, `incident` (its id) and `incident_root` (the root entity's field name).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TypedDict

import orjson

from alerting.delivery import HttpRequest
from alerting.pager import PagerMessage
from alerting.redact import REDACTED
from alerting.sinks.base import Sink

API_PATH = "/api/v2/alerts"
LEASE_INTERVALS = 4
MAX_TRACKED = 100_000  # alerts kept for re-sending; the oldest go first beyond this
RESEND_BATCH = 500  # alerts per re-send request
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class AlertmanagerAlert(TypedDict):
    """One alert of the API's `postableAlerts` body, as this sink sends it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str


def iso(seconds: float) -> str:
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str, default: float) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def label_name(field: str) -> str | None:
    name = field.replace(".", "_").replace("-", "_")
    return name if _LABEL_NAME.fullmatch(name) else None


def labels_of(message: PagerMessage) -> dict[str, str]:
    payload = message.payload
    details = payload.custom_details
    labels: dict[str, str] = {}
    for key, text in details.labels.items():
        name = label_name(key)
        if name:
            labels[name] = text
    for key, value in details.group.items():
        name = label_name(key)
        if name and value != REDACTED:
            labels[name] = str(value)
    labels.update(
        alertname=payload.component,
        rule=payload.component,
        severity=payload.severity,
        dedup_key=message.dedup_key,
        source=payload.source,
    )
    if details.incident is not None:
        # Routes group by it (`group_by: [incident]`): one notification per incident.
        labels["incident"] = details.incident.id
        labels["incident_root"] = details.incident.root.name
    return labels


def annotations_of(message: PagerMessage) -> dict[str, str]:
    payload = message.payload
    details = payload.custom_details
    notes = dict(details.annotations)
    notes["summary"] = payload.summary
    notes["group"] = payload.group
    notes["value"] = str(details.value)
    runbook = notes.pop("runbook", None)
    if runbook:
        notes["runbook_url"] = runbook
    samples = details.evidence.sample_event_ids
    if samples:
        notes["sample_event_ids"] = ",".join(samples)
    return notes


class AlertmanagerSink(Sink):
    kind = "alertmanager"
    replays = True

    def __init__(
        self, name: str, url: str, resend_interval_s: float, resolved_retention_s: float
    ) -> None:
        super().__init__(name, url.rstrip("/") + API_PATH)
        self.resend_interval_s = resend_interval_s
        self.resolved_retention_s = resolved_retention_s
        # dedup_key -> (alert as last sent, seconds until which it is re-sent; None while firing)
        self._tracked: dict[str, tuple[AlertmanagerAlert, float | None]] = {}
        self._last_resend = 0.0

    @property
    def lease_s(self) -> float:
        return self.resend_interval_s * LEASE_INTERVALS

    def alert(self, message: PagerMessage, now_s: float) -> AlertmanagerAlert:
        """The Alertmanager alert for one pager message."""
        at = parse_iso(message.payload.timestamp, now_s)
        key = message.dedup_key
        known = self._tracked.get(key)
        if message.event_action == "resolve":
            ends = min(at, now_s)  # Alertmanager treats an end in the future as still firing
            starts = min(parse_iso(known[0]["startsAt"], at) if known else at, ends)
        else:
            # A repeat trigger of an alert still firing keeps its original start.
            starts = parse_iso(known[0]["startsAt"], at) if known and known[1] is None else at
            ends = now_s + self.lease_s
        return {
            "labels": labels_of(message),
            "annotations": annotations_of(message),
            "startsAt": iso(starts),
            "endsAt": iso(ends),
        }

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        return HttpRequest(self.url, orjson.dumps([self.alert(message, now_s)]))

    def delivered(self, message: PagerMessage, now_s: float) -> None:
        key = message.dedup_key
        alert = self.alert(message, now_s)
        self._tracked.pop(key, None)  # re-insert: the dict's order is oldest-first
        resolved = message.event_action == "resolve"
        self._tracked[key] = (alert, now_s + self.resolved_retention_s if resolved else None)
        while len(self._tracked) > MAX_TRACKED:
            del self._tracked[next(iter(self._tracked))]

    def restore(self, message: PagerMessage) -> None:
        """Rebuild the firing set after a restart: the first re-send then renews every lease.

        Old resolves are not re-sent: Alertmanager heard them when they were delivered.
        """
        key = message.dedup_key
        self._tracked.pop(key, None)
        if message.event_action != "resolve":
            at = parse_iso(message.payload.timestamp, 0.0)
            self._tracked[key] = (self.alert(message, at), None)
        while len(self._tracked) > MAX_TRACKED:
            del self._tracked[next(iter(self._tracked))]

    def tracked(self) -> int:
        return len(self._tracked)

    def resends(self, now_s: float) -> list[HttpRequest]:
        if now_s - self._last_resend < self.resend_interval_s:
            return []
        self._last_resend = now_s
        alerts: list[AlertmanagerAlert] = []
        for key, (sent, until) in list(self._tracked.items()):
            if until is None:
                renewed: AlertmanagerAlert = {**sent, "endsAt": iso(now_s + self.lease_s)}
                self._tracked[key] = (renewed, None)
                alerts.append(renewed)
            elif until < now_s:
                del self._tracked[key]
            else:
                alerts.append(sent)
        return [
            HttpRequest(self.url, orjson.dumps(alerts[i : i + RESEND_BATCH]))
            for i in range(0, len(alerts), RESEND_BATCH)
        ]
