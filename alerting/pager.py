"""The pager message (CONTRACTS.md section 2) as a type, with its one encoder and one decoder.

A PagerDuty Events v2 envelope whose `custom_details` carry the rule, the group and the
evidence. `alerting.message` renders one from an alert; the worker and the backtest encode it
onto the pager topic or into a file; the bridge decodes what it reads and hands the typed
message to its routes and sinks, or dead-letters it with the field at fault. Absent optional
parts are absent from the JSON, never `null`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

import orjson

from signalfire.engine.alert import Action
from signalfire.entities import beyond_orjson

SOURCE = "signalfire"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
ACTIONS: tuple[Action, ...] = ("trigger", "resolve")
# Evidence parts the message names; any other evidence key is a detector's own (`extra`).
EVIDENCE_PARTS = ("sample_event_ids", "top", "counted")


class MessageError(ValueError):
    """Bytes that are not a pager message. The reason names the field at fault, never a value:
    it travels in a dead-letter header."""


@dataclass(frozen=True, slots=True)
class RuleRef:
    id: str
    version: str  # sha256 of the rule's canonical form
    title: str
    # "shadow": the page of a rule on trial, for the shadow topic and never for on-call. Written
    # only then, so that a live rule's page is what it always was.
    mode: str = "live"

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"


@dataclass(frozen=True, slots=True)
class Condition:
    """`threshold` and `op` of threshold, distinct and ratio rules."""

    threshold: float
    op: str


@dataclass(frozen=True, slots=True)
class Window:
    size_s: float
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Counted:
    """What the samples and top values cover: the group's events from `since` on."""

    since: str
    events: int


@dataclass(frozen=True, slots=True)
class PageEvidence:
    sample_event_ids: tuple[str, ...] = ()  # always in the JSON, if empty
    top: Mapping[str, tuple[tuple[Any, int], ...]] = field(default_factory=dict)
    counted: Counted | None = None
    # The detector's own facts (spike's baseline, new_value's field and known values), in order.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnoozeRef:
    """On a trigger a snooze kept from on-call (shadow topic only): which snooze, until when."""

    key: str
    until: str


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity a page is about (docs/contracts.md, `custom_details.entities`): a group value,
    or a parent entity every counted event of the group named."""

    name: str  # the field: `org_id`, `account_id`, `api_key_id`, `ip`, ...
    value: Any  # as the page shows it (a hidden field's value is `[redacted]`)
    ref: str  # `<name>/<16 hex of sha256 over [name, value]>`, of the whole value: never hidden
    source: str  # `group` (a group value) or `events` (taken from the group's events)


ENTITY_SOURCES = ("group", "events")


@dataclass(frozen=True, slots=True)
class RootRef:
    """The entity an incident is about (`name`/`ref` `page`/`page/<dedup_key>` for a page that
    has no entity)."""

    name: str
    value: Any
    ref: str


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """`custom_details.incident`, which the bridge adds: the incident the page is part of, and
    what the page did to it (docs/triage.md#incidents). The worker never writes it."""

    id: str
    status: IncidentStatus
    root: RootRef
    opened_at: str  # event time, ISO-8601 with milliseconds
    pages: int  # pages (dedup keys) in the incident, this one counted
    firing: int  # of them, those that fire after this message
    absorbed_by: str | None = None  # `absorbed`: the dedup key of the firing parent page


# What a message did to its incident (alerting.incidents decides it).
IncidentStatus = Literal[
    "opened", "joined", "absorbed", "updated", "page_resolved", "resolved", "alone"
]
INCIDENT_STATUSES: tuple[IncidentStatus, ...] = get_args(IncidentStatus)


@dataclass(frozen=True, slots=True)
class Details:
    """`payload.custom_details`."""

    rule: RuleRef
    group: Mapping[str, Any]
    value: Any
    evidence: PageEvidence
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    condition: Condition | None = None
    window: Window | None = None
    owner: str | None = None
    truncated: bool = False
    omitted: tuple[str, ...] = ()
    snooze: SnoozeRef | None = None
    # Top-down: the hierarchy's entities, then side entities. The first is the page's root.
    entities: tuple[Entity, ...] = ()
    incident: IncidentRef | None = None

    @property
    def root(self) -> Entity | None:
        return self.entities[0] if self.entities else None


@dataclass(frozen=True, slots=True)
class Payload:
    summary: str
    severity: str
    timestamp: str  # event time at which the condition was met, ISO-8601 with milliseconds
    component: str  # the rule id
    group: str  # `name=value,...` as the page shows the group
    class_: str  # the detector type (`class` in the JSON)
    custom_details: Details
    source: str = SOURCE


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True, slots=True)
class PagerMessage:
    event_action: Action
    dedup_key: str
    payload: Payload
    links: tuple[Link, ...] = ()


def record_key(message: PagerMessage) -> bytes:
    """The key of the page's record on the pager and shadow topics: its root entity's ref (or
    its dedup key when it has no entities). Every page of one root lands in one partition, in
    the order it was written, so incidents correlate on each partition alone."""
    root = message.payload.custom_details.root
    return (root.ref if root is not None else message.dedup_key).encode()


def held_by_snooze(message: PagerMessage, key: str, until: str) -> PagerMessage:
    """The trigger as the shadow topic carries it when a snooze keeps it from on-call."""
    details = replace(message.payload.custom_details, snooze=SnoozeRef(key, until))
    return replace(message, payload=replace(message.payload, custom_details=details))


# -- encoding ---------------------------------------------------------------------------------
def encode(message: PagerMessage) -> bytes:
    """The message as the pager topic, the backtest's files and the sinks carry it."""
    return json_bytes(to_json(message))


def json_bytes(value: Any) -> bytes:
    """`value` as JSON. An integer beyond 64 bits (the exact sum of huge event values), which
    orjson does not write, becomes the nearest float: a JSON number still."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return orjson.dumps(_within_64_bits(value), option=orjson.OPT_NON_STR_KEYS)


def _within_64_bits(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _within_64_bits(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_within_64_bits(v) for v in value]
    if beyond_orjson(value):
        try:
            return float(value)
        except OverflowError:  # beyond a double too: its digits
            return str(value)
    return value


def to_json(message: PagerMessage) -> dict[str, Any]:
    """The JSON object of the message: what `orjson.loads(encode(message))` gives."""
    p = message.payload
    out: dict[str, Any] = {
        "event_action": message.event_action,
        "dedup_key": message.dedup_key,
        "payload": {
            "summary": p.summary,
            "source": p.source,
            "severity": p.severity,
            "timestamp": p.timestamp,
            "component": p.component,
            "group": p.group,
            "class": p.class_,
            "custom_details": _details_json(p.custom_details),
        },
    }
    if message.links:
        out["links"] = [{"href": link.href, "text": link.text} for link in message.links]
    return out


def _details_json(d: Details) -> dict[str, Any]:
    rule = {"id": d.rule.id, "version": d.rule.version, "title": d.rule.title}
    if d.rule.shadow:
        rule["mode"] = d.rule.mode
    out: dict[str, Any] = {
        "rule": rule,
        "group": dict(d.group),
        "value": d.value,
    }
    if d.condition is not None:
        out["threshold"] = d.condition.threshold
        out["op"] = d.condition.op
    if d.window is not None:
        out["window"] = {"size_s": d.window.size_s, "start": d.window.start, "end": d.window.end}
    ev = d.evidence
    evidence: dict[str, Any] = {"sample_event_ids": list(ev.sample_event_ids)}
    if ev.top:
        evidence["top"] = {k: [[v, n] for v, n in pairs] for k, pairs in ev.top.items()}
    if ev.counted is not None:
        evidence["counted"] = {"since": ev.counted.since, "events": ev.counted.events}
    evidence.update(ev.extra)
    out["evidence"] = evidence
    out["labels"] = dict(d.labels)
    out["annotations"] = dict(d.annotations)
    if d.owner is not None:
        out["owner"] = d.owner
    if d.truncated:
        out["truncated"] = True
    if d.omitted:
        out["omitted"] = list(d.omitted)
    if d.snooze is not None:
        out["snooze"] = {"key": d.snooze.key, "until": d.snooze.until}
    if d.entities:
        out["entities"] = [entity_json(e) for e in d.entities]
    if d.incident is not None:
        out["incident"] = _incident_json(d.incident)
    return out


def entity_json(e: Entity) -> dict[str, Any]:
    """An entity as pages (and the incidents' saved state) write it."""
    return {"name": e.name, "value": e.value, "ref": e.ref, "source": e.source}


def _incident_json(i: IncidentRef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": i.id,
        "status": i.status,
        "root": {"name": i.root.name, "value": i.root.value, "ref": i.root.ref},
        "opened_at": i.opened_at,
        "pages": i.pages,
        "firing": i.firing,
    }
    if i.absorbed_by is not None:
        out["absorbed_by"] = i.absorbed_by
    return out


# -- decoding ---------------------------------------------------------------------------------
def decode(data: bytes) -> PagerMessage:
    """The message in `data`, or MessageError saying what is wrong with it.

    Keys the message does not name are ignored: a page stays deliverable when a producer adds
    a field. Everything `encode` writes is checked for its type.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MessageError("not JSON") from None
    m = _Object(raw, "")
    action = m.text("event_action")
    if action not in ACTIONS:
        raise MessageError("event_action: expected trigger or resolve")
    p = m.object("payload")
    links = m.array("links") if m.has("links") else []
    return PagerMessage(
        event_action=action,
        dedup_key=m.text("dedup_key"),
        payload=Payload(
            summary=p.text("summary"),
            source=p.text("source"),
            severity=p.text("severity"),
            timestamp=p.text("timestamp"),
            component=p.text("component"),
            group=p.text("group"),
            class_=p.text("class"),
            custom_details=_details(p.object("custom_details")),
        ),
        links=tuple(
            Link(link.text("href"), link.text("text"))
            for link in (_Object(item, f"links[{i}]") for i, item in enumerate(links))
        ),
    )


def _mode(rule: _Object) -> str:
    mode = rule.text("mode") if rule.has("mode") else "live"
    if mode not in ("live", "shadow"):
        raise MessageError(f"{rule.at('mode')}: expected live or shadow")
    return mode


def _details(d: _Object) -> Details:
    rule = d.object("rule")
    condition = None
    if d.has("threshold") or d.has("op"):
        condition = Condition(d.number("threshold"), d.text("op"))
    window = None
    if d.has("window"):
        w = d.object("window")
        window = Window(w.number("size_s"), w.text("start"), w.text("end"))
    return Details(
        rule=RuleRef(rule.text("id"), rule.text("version"), rule.text("title"), _mode(rule)),
        group=d.object("group").fields,
        value=d.any("value"),
        condition=condition,
        window=window,
        evidence=_evidence(d.object("evidence")),
        labels=d.texts_by_name("labels"),
        annotations=d.texts_by_name("annotations"),
        owner=d.text("owner") if d.has("owner") else None,
        truncated=d.flag("truncated") if d.has("truncated") else False,
        omitted=tuple(d.texts("omitted")) if d.has("omitted") else (),
        snooze=_snooze(d.object("snooze")) if d.has("snooze") else None,
        entities=_entities(d) if d.has("entities") else (),
        incident=_incident(d.object("incident")) if d.has("incident") else None,
    )


def _entities(d: _Object) -> tuple[Entity, ...]:
    return tuple(
        _entity(_Object(item, f"{d.at('entities')}[{i}]"))
        for i, item in enumerate(d.array("entities"))
    )


def _entity(e: _Object) -> Entity:
    source = e.text("source")
    if source not in ENTITY_SOURCES:
        raise MessageError(f"{e.at('source')}: expected group or events")
    return Entity(e.text("name"), e.any("value"), e.text("ref"), source)


def _root(r: _Object) -> RootRef:
    return RootRef(r.text("name"), r.any("value"), r.text("ref"))


def _incident(i: _Object) -> IncidentRef:
    status = i.text("status")
    if status not in INCIDENT_STATUSES:
        raise MessageError(f"{i.at('status')}: expected one of {', '.join(INCIDENT_STATUSES)}")
    return IncidentRef(
        id=i.text("id"),
        status=status,
        root=_root(i.object("root")),
        opened_at=i.text("opened_at"),
        pages=i.integer("pages"),
        firing=i.integer("firing"),
        absorbed_by=i.text("absorbed_by") if i.has("absorbed_by") else None,
    )


def _snooze(s: _Object) -> SnoozeRef:
    return SnoozeRef(s.text("key"), s.text("until"))


def _evidence(ev: _Object) -> PageEvidence:
    top: dict[str, tuple[tuple[Any, int], ...]] = {}
    if ev.has("top"):
        t = ev.object("top")
        for name in t.fields:
            pairs = []
            for i, pair in enumerate(t.array(name)):
                if not (isinstance(pair, list) and len(pair) == 2 and _is_int(pair[1])):
                    raise MessageError(f"{t.at(name)}[{i}]: expected [value, count]")
                pairs.append((pair[0], pair[1]))
            top[name] = tuple(pairs)
    counted = None
    if ev.has("counted"):
        c = ev.object("counted")
        counted = Counted(c.text("since"), c.integer("events"))
    return PageEvidence(
        sample_event_ids=tuple(ev.texts("sample_event_ids")),
        top=top,
        counted=counted,
        extra={k: v for k, v in ev.fields.items() if k not in EVIDENCE_PARTS},
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Object:
    """One JSON object being decoded; errors name the path to the field at fault."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise MessageError(f"{path or 'message'}: expected an object")
        self.fields: dict[str, Any] = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.fields

    def any(self, key: str) -> Any:
        if key not in self.fields:
            raise MessageError(f"{self.at(key)}: missing")
        return self.fields[key]

    def _typed(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.any(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
            raise MessageError(f"{self.at(key)}: expected {what}")
        return value

    def text(self, key: str) -> str:
        return cast(str, self._typed(key, str, "a string"))

    def number(self, key: str) -> float:
        return cast(float, self._typed(key, (int, float), "a number"))

    def integer(self, key: str) -> int:
        return cast(int, self._typed(key, int, "an integer"))

    def flag(self, key: str) -> bool:
        return cast(bool, self._typed(key, bool, "true or false"))

    def object(self, key: str) -> _Object:
        return _Object(self._typed(key, dict, "an object"), self.at(key))

    def array(self, key: str) -> list[Any]:
        return cast(list[Any], self._typed(key, list, "an array"))

    def texts(self, key: str) -> list[str]:
        items = self.array(key)
        if not all(isinstance(s, str) for s in items):
            raise MessageError(f"{self.at(key)}: expected an array of strings")
        return items

    def texts_by_name(self, key: str) -> dict[str, str]:
        found = self.object(key).fields
        if not all(isinstance(s, str) for s in found.values()):
            raise MessageError(f"{self.at(key)}: expected an object of strings")
        return found


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
