"""Pager messages with entities, built directly, for the correlator's tests.

`T("key_burst", 5 * MIN, org="o1", key="k1")` is a trigger at 5 minutes of a page grouped by
org and key: its entities are org_id=o1 then api_key_id=k1 (top-down, in the order given), its
dedup key `key_burst/o1,k1`.
"""

from __future__ import annotations

from typing import Any

from alerting.pager import Details, Entity, PageEvidence, PagerMessage, Payload, RuleRef
from signalfire.entities import entity_ref
from signalfire.timestamps import iso_ms

SEC = 1_000
MIN = 60 * SEC
HOUR = 60 * MIN
T0 = 1_795_420_800_000  # event times in the tables are offsets from this

NAMES = {"org": "org_id", "acct": "account_id", "key": "api_key_id", "ip": "ip"}


def entity(name: str, value: Any, source: str = "group") -> Entity:
    return Entity(name, value, entity_ref(name, value), source)


def page(
    action: str,
    rule: str,
    at: int,
    *,
    dedup: str | None = None,
    mode: str = "live",
    **values: Any,
) -> PagerMessage:
    entities = tuple(entity(NAMES[k], v) for k, v in values.items())
    group = {e.name: e.value for e in entities}
    details = Details(
        rule=RuleRef(rule, "v1", rule.replace("_", " "), mode),
        group=group,
        value=1,
        evidence=PageEvidence(),
        labels={},
        annotations={},
        entities=entities,
    )
    return PagerMessage(
        event_action=action,  # type: ignore[arg-type]
        dedup_key=dedup or f"{rule}/{','.join(str(v) for v in values.values())}",
        payload=Payload(
            summary=f"{rule} {group}",
            severity="critical",
            timestamp=iso_ms(T0 + at),
            component=rule,
            group=",".join(f"{k}={v}" for k, v in group.items()),
            class_="threshold",
            custom_details=details,
        ),
    )


def T(rule: str, at: int, **values: Any) -> PagerMessage:
    return page("trigger", rule, at, **values)


def R(rule: str, at: int, **values: Any) -> PagerMessage:
    return page("resolve", rule, at, **values)
