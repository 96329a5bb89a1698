"""Counters per rule, read by the CLI summary and the metrics bundle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RuleStats:
    matches: int = 0
    triggers: int = 0
    resolves: int = 0
    cap_evictions: int = 0
    # sequence partial matches not started because their group had MAX_PARTIALS already
    partials_dropped: int = 0
