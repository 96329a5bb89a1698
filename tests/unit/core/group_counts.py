"""Runs one script through both engines and compares the groups each rule holds after every
step (the worker's state gauge), which the alert trace does not show."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from signalfire.engine import Engine, EngineSettings
from signalfire.engine.core import CoreEngine
from signalfire.events import EventError, decode
from signalfire.rules.model import Rule
from tests.unit.core.scripts import Advance, Step


def assert_same_group_counts(
    rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int
) -> None:
    settings = EngineSettings(allowed_lateness_ms=lateness_ms)
    ref, core = Engine(rules, settings), CoreEngine(rules, settings)
    for n, step in enumerate(script):
        if isinstance(step, Advance):
            ref.advance(step.now)
            core.advance(step.now)
        else:
            events = []
            for raw in step.records:
                with contextlib.suppress(EventError):
                    events.append(decode(raw))
            ref.process(events)
            core.process(list(step.records))
        assert core.group_counts() == ref.group_counts(), f"after step {n}"
    ref.flush()
    core.flush()
    assert core.group_counts() == ref.group_counts(), "after flush"
