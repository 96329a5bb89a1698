"""Configuration of the synthetic traffic generator (one frozen, hashable value)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SCENARIO_NAMES: tuple[str, ...] = (
    "stolen_key_token_drain",
    "scraping_burst",
    "trial_account_farm",
    "flagged_content_surge",
    "signup_key_flagged",
    "silent_source",
    "scripted_free_tier",
    "child_safety_content",
    "context_stuffing",
    "failed_payment_usage",
    "credential_stuffing",
)

DEFAULT_START_MS = 1_795_392_000_000  # 2026-11-23T00:00:00Z
MIN_ORGS = 10


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Equal configs yield byte-identical output.

    `events` is the exact number of events produced. `rate` is the background rate in events per
    second of event time: the run lasts `events / rate` seconds, but never less than the selected
    scenarios need (see `world.min_duration_ms`); the background rate is then lowered so the
    event count still holds.
    """

    seed: int = 7
    events: int = 200_000
    rate: float = 2000.0
    start_ms: int = DEFAULT_START_MS
    orgs: int = 300
    scenarios: tuple[str, ...] = SCENARIO_NAMES
    late_fraction: float = 0.01
    max_lateness_ms: int = 5000

    def __post_init__(self) -> None:
        if self.events <= 0:
            raise ValueError("events must be positive")
        if not self.rate > 0:
            raise ValueError("rate must be positive")
        if self.orgs < MIN_ORGS:
            raise ValueError(f"orgs must be at least {MIN_ORGS}")
        unknown = [s for s in self.scenarios if s not in SCENARIO_NAMES]
        if unknown:
            raise ValueError(
                f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIO_NAMES)}"
            )
        if len(set(self.scenarios)) != len(self.scenarios):
            raise ValueError("scenarios must not repeat")
        if not 0.0 <= self.late_fraction <= 1.0:
            raise ValueError("late_fraction must be within [0, 1]")
        if self.max_lateness_ms < 0:
            raise ValueError("max_lateness_ms must be >= 0")


def parse_scenarios(text: str) -> tuple[str, ...]:
    """Parse `a,b,...`, `all` or `none` into scenario names (in catalogue order for `all`)."""
    value = text.strip()
    if value == "all":
        return SCENARIO_NAMES
    if value in ("none", ""):
        return ()
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown:
        raise ValueError(
            f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIO_NAMES)}"
        )
    return tuple(dict.fromkeys(names))


def parse_start(text: str) -> int:
    """Parse epoch milliseconds (digits) or an ISO-8601 time (naive means UTC) into epoch ms."""
    value = text.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 time or epoch ms: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
