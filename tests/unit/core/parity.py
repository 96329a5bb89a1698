"""Running record values through the compiled core one by one in a single batch: which were
dead-lettered (reason and message) and which were accepted, with the alerts of a `match` rule
grouping by `event_id` (one trigger per accepted event when every event id is distinct)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signalfire.engine import EngineSettings
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.events import MAX_TS_MS
from signalfire.rules.model import Rule
from tests.reference.events import EventError, decode
from tests.unit.helpers import base_rule

# Nothing is late: every event time the contract accepts is within the lateness.
SETTINGS = EngineSettings(allowed_lateness_ms=MAX_TS_MS)

# A fixed text of the reference's, or an orjson message after this prefix (its own wording).
ORJSON_PREFIX = "not valid JSON: "
DEPTH_MESSAGE = "not valid JSON: nested deeper than 100 levels"

# (reason, message) of a dead letter, or the accepted event
Outcome = tuple[str, str] | dict[str, Any]


def match_rule(**top: Any) -> Rule:
    top.setdefault("id", "every")
    top.setdefault("group_by", ["event_id"])
    return base_rule({"type": "match"}, **top)


EVERY = match_rule()


def fixed_text(message: str) -> bool:
    """Whether the reference's message is its own text rather than orjson's."""
    return not message.startswith(ORJSON_PREFIX) or message == DEPTH_MESSAGE


def reference(records: Sequence[bytes]) -> list[Outcome]:
    out: list[Outcome] = []
    for raw in records:
        try:
            out.append(decode(raw))
        except EventError as exc:
            out.append((exc.reason.value, str(exc)))
    return out


def core(
    rules: Sequence[Rule], records: Sequence[bytes]
) -> tuple[dict[int, tuple[str, str]], list[Alert]]:
    """Dead letters by record index, and the alerts of the accepted events."""
    engine = CoreEngine(rules, SETTINGS)
    out = engine.process(list(records))
    dead = {d.index: (d.reason.value, d.message) for d in out.dead_letters}
    return dead, out.alerts
