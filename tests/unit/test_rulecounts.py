"""What a rule did, as one record: its arithmetic, and readings of a running engine."""

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import FIELDS, RuleCounts
from tests.unit.helpers import base_rule, ev

WINDOW = {"type": "threshold", "window": "1m", "threshold": 2}


def test_counts_add_and_subtract_field_by_field():
    a = RuleCounts(*range(1, len(FIELDS) + 1))
    b = RuleCounts(matches=1, late=4)
    assert (a + b) - b == a
    assert (a - a) == RuleCounts() and not (a - a)
    assert (a + b).late == a.late + 4 and (a + b).triggers == a.triggers
    assert dict(b.items()) == {name: 0 for name in FIELDS} | {"matches": 1, "late": 4}


def test_the_engine_counts_what_each_rule_did():
    import orjson

    quiet = base_rule({**WINDOW, "threshold": 100}, id="quiet")
    busy = base_rule(WINDOW, id="busy", max_groups=1)
    engine = CoreEngine([quiet, busy], EngineSettings(allowed_lateness_ms=1_000))
    assert engine.counts() == [RuleCounts(), RuleCounts()]

    def feed(*events: dict[str, object]) -> None:
        engine.process([orjson.dumps(e) for e in events])

    feed(ev(0, "a"), ev(1, "a"), ev(2, "b"), ev(100_000, "a"))
    feed(ev(5, "a"))  # older than the watermark
    q, b = engine.counts()
    assert q == RuleCounts(matches=4, late=1)
    # busy (cap 1): b evicts a; by 100 s both have left the window, so a comes back alone
    assert b == RuleCounts(matches=4, cap_evictions=1, late=1)
