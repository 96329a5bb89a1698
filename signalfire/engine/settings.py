"""Engine-wide settings (the worker's flags set them; rules may override `max_groups`)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LATENESS_MS = 30_000
DEFAULT_MAX_GROUPS = 100_000
SAMPLE_IDS = 10
# Threads the compiled core runs a batch on (decoding, then the rules by group_by); its output
# is the same with any number.
CORE_THREADS = 2


@dataclass(frozen=True, slots=True)
class EngineSettings:
    allowed_lateness_ms: int = DEFAULT_LATENESS_MS
    max_groups: int = DEFAULT_MAX_GROUPS
    sample_ids: int = SAMPLE_IDS
    threads: int = CORE_THREADS

    def __post_init__(self) -> None:
        if self.allowed_lateness_ms < 0:
            raise ValueError("allowed lateness must be >= 0")
        if self.max_groups < 1:
            raise ValueError("max_groups must be >= 1")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
