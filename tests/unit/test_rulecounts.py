"""What a rule did, as one record: its arithmetic, and readings of a running engine."""

from signalfire.engine import Engine, EngineSettings
from signalfire.rulecounts import FIELDS, RuleCounts, running_counts
from tests.unit.helpers import base_rule, ev

WINDOW = {"type": "threshold", "window": "1m", "threshold": 2}


def test_counts_add_and_subtract_field_by_field():
    a = RuleCounts(*range(1, len(FIELDS) + 1))
    b = RuleCounts(matches=1, late=4)
    assert (a + b) - b == a
    assert (a - a) == RuleCounts() and not (a - a)
    assert (a + b).late == a.late + 4 and (a + b).triggers == a.triggers
    assert dict(b.items()) == {name: 0 for name in FIELDS} | {"matches": 1, "late": 4}


def test_running_counts_read_every_count_of_every_rule():
    quiet = base_rule({**WINDOW, "threshold": 100}, id="quiet")
    busy = base_rule(WINDOW, id="busy", max_groups=1)
    engine = Engine([quiet, busy], EngineSettings(allowed_lateness_ms=1_000))
    before = running_counts(engine)
    assert before == [RuleCounts(), RuleCounts()]
    engine.process([ev(0, "a"), ev(1, "a"), ev(2, "b"), ev(100_000, "a")])
    engine.process([ev(5, "a")])  # older than the watermark
    q, b = running_counts(engine)
    assert q == RuleCounts(matches=4, late=1)
    det = engine.detectors[1]
    assert b == RuleCounts(
        matches=det.stats.matches,
        triggers=det.stats.triggers,
        resolves=det.stats.resolves,
        suppressed=det.lc.suppressed,
        cap_evictions=det.stats.cap_evictions,
        late=1,
        partials_dropped=det.stats.partials_dropped,
    )
    assert b.matches == 4 and b.cap_evictions > 0
