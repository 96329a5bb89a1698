"""Groups held per rule (the metrics' gauge) by the Python reference engine and the compiled
core, compared after every step of a script."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.engine import Engine
from tests.reference.events import EventError, decode
from tests.unit.core.scripts import Advance, Reload, Restart, Step


def assert_same_group_counts(
    rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int
) -> None:
    ref = Engine(rules, EngineSettings(allowed_lateness_ms=lateness_ms))
    core = CoreEngine(rules, EngineSettings(allowed_lateness_ms=lateness_ms))
    for n, step in enumerate(script):
        if isinstance(step, Restart):
            core = CoreEngine(core.rules, core.settings, core.save())
        elif isinstance(step, Reload):
            ref.reload(step.rules(rules))
            core.reload(step.rules(rules))
        elif isinstance(step, Advance):
            ref.advance(step.now)
            core.advance(step.now)
        else:
            events = []
            for raw in step.records:
                with suppress(EventError):
                    events.append(decode(raw))
            ref.process(events)
            core.process(list(step.records))
        assert core.group_counts() == ref.group_counts(), f"step {n}"
    ref.flush()
    core.flush()
    assert core.group_counts() == ref.group_counts(), "flush"
