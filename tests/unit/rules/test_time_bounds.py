"""Every duration and time in a rule file is bounded at load, so that no accepted rule can fire
a page whose times cannot be written (a window start before year 1, an end after 9999)."""

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.message import pager_message
from alerting.pager import encode, to_json
from signalfire.durations import MAX_DURATION_MS
from signalfire.events import MAX_TS_MS
from signalfire.rules import parse_rule_text
from signalfire.timestamps import iso_ms
from tests.unit.helpers import ev, rule, run

HEAD = "id: r\ntitle: R\nseverity: info\ngroup_by: [org_id]\n"
THRESHOLD = "detect: {type: threshold, window: 1h, threshold: 1}\n"
OVER = "3651d"
LAST_TS = MAX_TS_MS - 1


def case(events: str = "[{ts: 0}]", expect: str = "[]", extra: str = "") -> str:
    return f"tests:\n  - name: c\n    events: {events}\n    expect: {expect}\n{extra}"


D = "3650d"  # the limit named for a duration
T = str(LAST_TS)  # the limit named for a time
SEQ = "steps: [{where: {a: 1}}, {where: {b: 1}}]"
EVENT = "\n      - "
# (rule body after HEAD, text on the offending line, field named in the message, limit named)
TOO_LONG = [
    ("detect: {type: threshold, window: 3651d, threshold: 1}\n", "window", "detect.window", D),
    ("detect: {type: threshold, window: 3650d1ms, threshold: 1}\n", "window", "detect.window", D),
    ("detect: {type: threshold, window: 1000000d, threshold: 1}\n", "window", "detect.window", D),
    ("detect: {type: threshold, window: 1d, bucket: 3651d, threshold: 1}\n", "bucket",
     "detect.bucket", D),
    ("detect: {type: distinct, field: ip, window: 87601h, threshold: 1}\n", "window",
     "detect.window", D),
    ("detect: {type: ratio, numerator: {flagged: true}, window: 3651d, threshold: 0.5}\n",
     "window", "detect.window", D),
    ("detect: {type: spike, window: 3651d, factor: 2}\n", "window", "detect.window", D),
    ("detect: {type: absence, window: 3651d}\n", "window", "detect.window", D),
    ("detect: {type: new_value, field: ip, lookback: 3651d}\n", "lookback", "detect.lookback", D),
    ("detect: {type: new_value, field: ip, warmup: 3651d}\n", "warmup", "detect.warmup", D),
    (f"detect: {{type: sequence, within: 3651d, {SEQ}}}\n", "within", "detect.within", D),
    (THRESHOLD + "for: 3651d\n", "for:", "for", D),
    (THRESHOLD + "resolve_after: 3651d\n", "resolve_after", "resolve_after", D),
    (THRESHOLD + "throttle: 3651d\n", "throttle", "throttle", D),
    (THRESHOLD + case(events=EVENT + "{ts: 0, repeat: 2, every: 3651d}"), "every",
     "tests[0].events[0].every", D),
    (THRESHOLD + case(events=EVENT + "{ts: 1157408d}"), "{ts:", "tests[0].events[0].ts", T),
    (THRESHOLD + case(events=EVENT + "{ts: 100000000000000}"), "{ts:", "tests[0].events[0].ts", T),
    (THRESHOLD + case(events=EVENT + "{ts: -1}"), "{ts:", "tests[0].events[0].ts", T),
    (THRESHOLD + case(events=EVENT + f"{{ts: {T}, repeat: 2, every: 1ms}}"), "repeat",
     "tests[0].events[0].repeat", T),
    (THRESHOLD + case(expect=EVENT + "{action: trigger, at: 1157408d}"), "at:",
     "tests[0].expect[0].at", T),
    (THRESHOLD + case(extra="    until: 1157408d\n"), "until", "tests[0].until", T),
]  # fmt: skip


def problems_of(text: str) -> list[str]:
    _, problems = parse_rule_text(text, "r.yaml")
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("body", "needle", "field", "limit"),
    TOO_LONG,
    ids=[f"{n}-{row[2]}" for n, row in enumerate(TOO_LONG)],
)
def test_too_long_or_out_of_range_is_reported_with_line_field_and_limit(body, needle, field, limit):
    text = HEAD + body
    line = next(n for n, t in enumerate(text.splitlines(), 1) if needle in t)
    found = problems_of(text)
    assert any(p.startswith(f"r.yaml:{line}: {field}: ") and limit in p for p in found), found


AT_THE_LIMIT = [
    "detect: {type: threshold, window: 3650d, bucket: 3650d, threshold: 1}\n"
    "for: 3650d\nresolve_after: 3650d\nthrottle: 3650d\n",
    "detect: {type: new_value, field: ip, lookback: 3650d, warmup: 3650d}\n",
    f"detect: {{type: sequence, within: 3650d, {SEQ}}}\n",
    "detect: {type: absence, window: 87600h}\n",
    THRESHOLD
    + case(
        events=EVENT + "{ts: 1157407d}" + EVENT + "{ts: 99999999999998, repeat: 2, every: 1ms}",
        expect=EVENT + f"{{action: trigger, at: {T}}}",
        extra=f"    until: {T}\n",
    ),
]


@pytest.mark.parametrize("body", AT_THE_LIMIT)
def test_limits_themselves_are_accepted(body):
    assert problems_of(HEAD + body) == []


def parses_back(iso: str) -> int:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round(dt.timestamp() * 1000)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, LAST_TS), st.integers(0, MAX_DURATION_MS))
def test_any_event_time_plus_or_minus_any_duration_is_an_exact_iso_time(ts, duration):
    # What a page can show: a window start (ts - window) or a deadline (ts + for, resolve...).
    for ms in (ts - duration, ts + duration):
        assert parses_back(iso_ms(ms)) == ms


@pytest.mark.parametrize("ts", [0, LAST_TS])
@pytest.mark.parametrize(
    "detect",
    [
        "{type: threshold, window: 3650d, threshold: 0}",
        "{type: spike, window: 3650d, factor: 2, baseline_windows: 1}",
        "{type: sequence, within: 3650d, steps: [{where: {event_type: a}},"
        " {where: {event_type: b}}]}",
    ],
)
def test_largest_window_over_first_and_last_event_times_renders_a_page(ts, detect):
    r = rule(HEAD + f"detect: {detect}\nfor: 0s\nresolve_after: 3650d\nthrottle: 3650d\n")
    events = [ev(ts, event_type="a"), ev(ts, event_type="b")]
    alerts = run(r, events)
    assert alerts or r.detect.type == "spike"  # spike needs a baseline: no page, no error
    for alert in alerts:
        page = pager_message(r, alert)
        assert encode(page)
        payload = to_json(page)["payload"]
        assert parses_back(payload["timestamp"]) == alert.at
        window = payload["custom_details"].get("window")
        if window is not None:
            assert parses_back(window["start"]) == alert.evidence.window_start
            assert parses_back(window["end"]) == alert.evidence.window_end


def test_absence_and_resolve_at_the_largest_spans_render_pages():
    absence = rule(HEAD + "detect: {type: absence, window: 3650d}\nresolve_after: 3650d\n")
    gap = 3650 * 86_400_000
    alerts = run(absence, [ev(0), ev(gap + 60_000, org="other")])
    # The silent group fires at 0 + 3650d; its window starts at the first event time.
    fired = [a for a in alerts if a.group == (("org_id", "o1"),)]
    assert [a.at for a in fired] == [gap]
    page = to_json(pager_message(absence, fired[0]))["payload"]
    assert parses_back(page["timestamp"]) == gap
    assert parses_back(page["custom_details"]["window"]["start"]) == 0
