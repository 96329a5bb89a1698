"""The correlator's state as JSON, version 1: what a restart restores instead of replaying.

    {"version": 1, "window_ms": W, "max_open": N, "clock": ms | null, "next_seq": n,
     "counters": {"opened", "resolved", "absorbed", "dropped", "decisions": {what: n},
                  "pages_buckets": [n, ...], "pages_sum"},
     "open": [incident, ...],        # in order of opening
     "resolved": [incident, ...],    # kept resolved incidents, in order of resolving
     "seen": [[dedup_key, action, ms, decision], ...]}   # remembered decisions, in order read
    incident: {"id", "seq", "root": root, "opened_at", "last_trigger_at", "resolved_at",
               "pages": [{"dedup_key", "rule", "first_trigger_at", "resolved_at", "absorbed_by",
                          "entities": [{"name", "value", "ref", "source"}, ...]}, ...]}
    decision: {"incident", "what", "root": root, "opened_at", "pages", "firing",
               "absorbed_by", "dropped"}
    root: {"name", "value", "ref"}

Times are epoch ms of event time; absent values are null. Another version is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from alerting.incidents.counters import PAGES_BUCKETS, Counters
from alerting.incidents.model import WHATS, Decision, Root
from alerting.incidents.state import IncidentState, PageState
from alerting.pager import ENTITY_SOURCES, Entity, entity_json

VERSION = 1


class SnapshotError(ValueError):
    """Bytes that are not a correlator state this build reads; the message is one line."""


@dataclass(slots=True)
class Saved:
    window_ms: int
    max_open: int
    clock: int | None
    next_seq: int
    counters: Counters
    open: list[IncidentState]
    resolved: list[IncidentState]
    seen: list[tuple[tuple[str, str, int], Decision]]


def dump(saved: Saved) -> bytes:
    c = saved.counters
    return orjson.dumps(
        {
            "version": VERSION,
            "window_ms": saved.window_ms,
            "max_open": saved.max_open,
            "clock": saved.clock,
            "next_seq": saved.next_seq,
            "counters": {
                "opened": c.opened,
                "resolved": c.resolved,
                "absorbed": c.absorbed,
                "dropped": c.dropped,
                "decisions": c.decisions,
                "pages_buckets": c.pages_buckets,
                "pages_sum": c.pages_sum,
            },
            "open": [_incident_json(i) for i in saved.open],
            "resolved": [_incident_json(i) for i in saved.resolved],
            "seen": [[*seen, _decision_json(d)] for seen, d in saved.seen],
        }
    )


def load(data: bytes) -> Saved:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SnapshotError("incident state: not JSON") from None
    if not isinstance(raw, dict) or "version" not in raw:
        raise SnapshotError("incident state: no version (not a saved correlator)")
    if raw["version"] != VERSION:
        raise SnapshotError(
            f"incident state version {raw['version']!r} is not one this build reads "
            f"(it reads version {VERSION})"
        )
    try:
        return _saved(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"incident state: malformed ({type(exc).__name__}: {exc})") from None


# -- writing ----------------------------------------------------------------------------------
def _root_json(root: Root) -> dict[str, Any]:
    return {"name": root.name, "value": root.value, "ref": root.ref}


def _incident_json(inc: IncidentState) -> dict[str, Any]:
    return {
        "id": inc.id,
        "seq": inc.seq,
        "root": _root_json(inc.root),
        "opened_at": inc.opened_at,
        "last_trigger_at": inc.last_trigger_at,
        "resolved_at": inc.resolved_at,
        "pages": [
            {
                "dedup_key": p.dedup_key,
                "rule": p.rule,
                "first_trigger_at": p.first_trigger_at,
                "resolved_at": p.resolved_at,
                "absorbed_by": p.absorbed_by,
                "entities": [entity_json(e) for e in p.entities],
            }
            for p in inc.pages.values()
        ],
    }


def _decision_json(d: Decision) -> dict[str, Any]:
    return {
        "incident": d.incident,
        "what": d.what,
        "root": _root_json(d.root),
        "opened_at": d.opened_at,
        "pages": d.pages,
        "firing": d.firing,
        "absorbed_by": d.absorbed_by,
        "dropped": d.dropped,
    }


# -- reading ----------------------------------------------------------------------------------
def _saved(raw: dict[str, Any]) -> Saved:
    c = raw["counters"]
    decisions = {what: _int(c["decisions"][what]) for what in WHATS}
    buckets = [_int(n) for n in c["pages_buckets"]]
    if len(buckets) != len(PAGES_BUCKETS) + 1:
        raise ValueError("counters.pages_buckets: wrong length")
    counters = Counters(
        _int(c["opened"]),
        _int(c["resolved"]),
        _int(c["absorbed"]),
        _int(c["dropped"]),
        decisions,
        buckets,
        _int(c["pages_sum"]),
    )
    return Saved(
        _int(raw["window_ms"]),
        _int(raw["max_open"]),
        _opt_int(raw["clock"]),
        _int(raw["next_seq"]),
        counters,
        [_incident(i) for i in raw["open"]],
        [_incident(i) for i in raw["resolved"]],
        [((_str(k), _str(a), _int(t)), _decision(d)) for k, a, t, d in raw["seen"]],
    )


def _root(raw: dict[str, Any]) -> Root:
    return Root(_str(raw["name"]), raw["value"], _str(raw["ref"]))


def _incident(raw: dict[str, Any]) -> IncidentState:
    inc = IncidentState(
        _str(raw["id"]),
        _int(raw["seq"]),
        _root(raw["root"]),
        _int(raw["opened_at"]),
        _int(raw["last_trigger_at"]),
        _opt_int(raw["resolved_at"]),
    )
    for p in raw["pages"]:
        page = PageState(
            _str(p["dedup_key"]),
            _str(p["rule"]),
            tuple(_entity(e) for e in p["entities"]),
            _int(p["first_trigger_at"]),
            _opt_int(p["resolved_at"]),
            _opt_str(p["absorbed_by"]),
        )
        inc.pages[page.dedup_key] = page
        if page.resolved_at is None:
            inc.firing += 1
            inc.firing_by_refs.setdefault(page.refs, set()).add(page.dedup_key)
    return inc


def _entity(raw: dict[str, Any]) -> Entity:
    source = _str(raw["source"])
    if source not in ENTITY_SOURCES:
        raise ValueError(f"entity source {source!r}")
    return Entity(_str(raw["name"]), raw["value"], _str(raw["ref"]), source)


def _decision(raw: dict[str, Any]) -> Decision:
    what = raw["what"]
    if what not in WHATS:
        raise ValueError(f"decision {what!r}")
    return Decision(
        _str(raw["incident"]),
        what,
        _root(raw["root"]),
        _int(raw["opened_at"]),
        _int(raw["pages"]),
        _int(raw["firing"]),
        _opt_str(raw["absorbed_by"]),
        _opt_str(raw["dropped"]),
    )


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)
