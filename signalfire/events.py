"""Usage events (docs/contracts.md section 1): the bounds and the reasons for rejects.

The compiled core decodes and checks record values against the contract; what it guarantees
the engine relies on: `event_id`, `org_id` are strings, `ts` is int epoch milliseconds,
`event_type` is present (default `request`), and every known optional field has its documented
type. Unknown fields are kept.
"""

from __future__ import annotations

from enum import StrEnum

MAX_TS_MS = 10**14  # year 5138: anything larger is a unit mistake (micro/nanoseconds)


class DeadLetterReason(StrEnum):
    """Why a record went to the dead-letter topic, as a bounded set (the metrics' `reason`)."""

    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OVERSIZED = "oversized"
    OTHER = "other"
