"""new_value, absence, sequence: detectors whose state lives in time."""

import orjson

from signalfire.engine.core import CoreEngine
from tests.unit.helpers import actions, base_rule, ev, run

MIN = 60_000
HOUR = 60 * MIN


def filler(start, stop, step=60_000):
    return [ev(t, "filler") for t in range(start, stop, step)]


def feed(engine, events):
    return engine.process([orjson.dumps(e) for e in events]).alerts


# -- new_value -----------------------------------------------------------------------------
NEW = {"type": "new_value", "field": "country", "lookback": "1d", "warmup": "1h"}


def test_new_value_learns_during_warmup_then_fires():
    r = base_rule(NEW)
    events = [
        ev(0, country="DE"),
        ev(30 * MIN, country="FR"),
        ev(2 * HOUR, country="DE"),
        ev(2 * HOUR + 1, country="FR"),
        ev(3 * HOUR, country="KP"),
    ]
    out = run(r, events)
    assert actions(out) == [("trigger", "o1", 3 * HOUR)]
    assert out[0].evidence.value == "KP"
    assert set(out[0].evidence.extra["known"]) == {"DE", "FR"}


def test_new_value_refires_after_lookback_but_not_within():
    r = base_rule(NEW, throttle="0s")
    events = [
        ev(0, country="DE"),
        ev(2 * HOUR, country="US"),
        ev(3 * HOUR, country="US"),
        ev(2 * HOUR + 25 * HOUR, country="DE"),
        ev(2 * HOUR + 26 * HOUR, country="US"),
    ]
    out = run(r, events)
    # US new at 2h; DE unseen for 27h > 1d lookback -> new again; US seen 24h ago (within 1d)?
    # US last seen at 3h, now 28h: 25h > 1d -> new again.
    assert [a.evidence.value for a in out] == ["US", "DE", "US"]


def test_new_value_forgets_idle_groups():
    r = base_rule(NEW)
    engine = CoreEngine([r])
    feed(engine, [ev(0, f"org{i}", country="DE") for i in range(100)])
    assert engine.group_counts() == {"r1": 100}
    feed(engine, [ev(3 * 86_400_000, "other", country="DE")])
    assert engine.group_counts() == {"r1": 1}


# -- absence -------------------------------------------------------------------------------
ABSENT = {"type": "absence", "window": "10m"}


def test_absence_fires_on_the_watermark_without_the_group_returning():
    r = base_rule(ABSENT, resolve_after="0s")
    events = [ev(t, "o1") for t in range(0, 5 * MIN, MIN)] + filler(0, 30 * MIN)
    out = run(r, events)
    # o1 last seen at 4m: absent at 14m. filler never goes silent (every minute).
    assert actions(out) == [("trigger", "o1", 14 * MIN)]
    assert out[0].evidence.value == 600.0
    assert out[0].evidence.sample_event_ids[-1] == events[4]["event_id"]


def test_absence_resolves_when_group_returns():
    r = base_rule(ABSENT, resolve_after="1m")
    events = [ev(0, "o1")] + filler(0, 20 * MIN) + [ev(20 * MIN, "o1")] + filler(20 * MIN, 30 * MIN)
    out = run(r, events)
    assert actions(out) == [("trigger", "o1", 10 * MIN), ("resolve", "o1", 21 * MIN)]


def test_absence_never_fires_beyond_observed_time():
    r = base_rule(ABSENT)
    assert run(r, [ev(0, "o1"), ev(9 * MIN, "o2")]) == []


def test_absence_fires_on_advance_without_events():
    r = base_rule(ABSENT)
    engine = CoreEngine([r])
    assert feed(engine, [ev(0, "o1")]) == []
    assert engine.advance(5 * MIN) == []
    out = engine.advance(11 * MIN)
    assert actions(out) == [("trigger", "o1", 10 * MIN)]


# -- sequence ------------------------------------------------------------------------------
SEQ = {
    "type": "sequence",
    "within": "30m",
    "steps": [
        {"where": {"event_type": "signup"}},
        {"where": {"event_type": "key_created"}},
        {"where": {"event_type": "request", "flagged": True}, "count": 3},
    ],
}


def acct(ts, event_type="request", **f):
    return ev(ts, account_id="acc1", event_type=event_type, **f)


def test_sequence_in_order_with_counts():
    r = base_rule(SEQ, group_by=["account_id"])
    events = [
        acct(0, "signup"),
        acct(MIN, "login"),
        acct(2 * MIN, "key_created"),
        acct(3 * MIN, flagged=True),
        acct(4 * MIN, flagged=False),
        acct(5 * MIN, flagged=True),
        acct(6 * MIN, flagged=True),
    ]
    out = run(r, events)
    assert actions(out) == [("trigger", "acc1", 6 * MIN)]
    assert len(out[0].evidence.sample_event_ids) == 5


def test_sequence_out_of_order_or_too_slow_stays_quiet():
    r = base_rule(SEQ, group_by=["account_id"])
    wrong_order = [acct(0, "key_created"), acct(MIN, "signup")] + [
        acct(2 * MIN + i, flagged=True) for i in range(3)
    ]
    assert run(r, wrong_order) == []
    too_slow = [acct(0, "signup"), acct(MIN, "key_created")] + [
        acct(31 * MIN + i, flagged=True) for i in range(3)
    ]
    assert run(r, too_slow) == []


ABSENT_SEQ = {
    "type": "sequence",
    "within": "1h",
    "steps": [
        {"where": {"event_type": "payment_failed"}},
        {"where": {"event_type": "request"}, "count": 2},
        {"where": {"event_type": "payment_succeeded"}, "absent": True},
    ],
}


def test_sequence_not_followed_by_fires_at_deadline():
    r = base_rule(ABSENT_SEQ)
    events = [ev(0, event_type="payment_failed"), ev(MIN), ev(2 * MIN)] + filler(0, 2 * HOUR)
    out = run(r, events)
    assert actions(out) == [("trigger", "o1", HOUR)]


def test_sequence_not_followed_by_cancelled_by_the_absent_step():
    r = base_rule(ABSENT_SEQ)
    events = [
        ev(0, event_type="payment_failed"),
        ev(MIN),
        ev(2 * MIN),
        ev(30 * MIN, event_type="payment_succeeded"),
    ] + filler(0, 2 * HOUR)
    assert run(r, events) == []


def test_sequence_partials_expire():
    r = base_rule(SEQ, group_by=["account_id"])
    engine = CoreEngine([r])
    feed(engine, [ev(i, account_id=f"a{i}", event_type="signup") for i in range(50)])
    assert engine.group_counts() == {"r1": 50}
    feed(engine, [ev(2 * HOUR, "x", account_id="zz", event_type="login")])
    assert engine.group_counts() == {"r1": 0}
