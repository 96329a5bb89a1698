"""Rule files: every problem reported as file:line: message, all at once."""

import json
import textwrap

import pytest

from signalfire.rules import RuleSetError, load_rules, parse_rule_text
from signalfire.rules.model import AllOf, Cond, Not

GOOD = """\
id: api_key_burst
title: API key request burst
severity: critical
where:
  event_type: request
  endpoint: {startswith: /v1/}
group_by: [org_id, api_key_id]
detect:
  type: threshold
  window: 60s
  threshold: 1000
"""


def problems_of(text: str) -> list[str]:
    _, problems = parse_rule_text(textwrap.dedent(text), "r.yaml")
    return [str(p) for p in problems]


def test_good_rule_loads_with_defaults():
    rules, problems = parse_rule_text(GOOD, "r.yaml")
    assert problems == []
    (r,) = rules
    assert r.group_by == (("org_id",), ("api_key_id",))
    assert r.detect.window_ms == 60_000 and r.detect.bucket_ms == 1_000
    assert r.resolve_after_ms == 300_000 and r.throttle_ms == 0 and r.for_ms == 0
    assert r.where == AllOf(
        (Cond(("event_type",), "eq", "request"), Cond(("endpoint",), "startswith", ("/v1/",)))
    )
    assert len(r.version) == 64


def test_occurrence_defaults():
    (r,), _ = parse_rule_text(
        GOOD.replace("type: threshold", "type: match").replace(
            "  window: 60s\n  threshold: 1000\n", ""
        ),
        "r.yaml",
    )
    assert r.throttle_ms == 600_000 and r.resolve_after_ms is None


def with_change(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


BAD = [
    (with_change("type: threshold", "type: thresold"), 9, "unknown detector type 'thresold'"),
    (with_change("window: 60s", "window: 60x"), 10, "detect.window: bad duration '60x'"),
    (with_change("threshold: 1000", "threshold: 1000\n  op: '=>'"), 12, "detect.op: expected"),
    (with_change("{startswith: /v1/}", "{cidr: 10.0.0.0/33}"), 6, "invalid cidr '10.0.0.0/33'"),
    (with_change("{startswith: /v1/}", "{regex: '(open'}"), 6, "invalid regex '(open'"),
    (with_change("{startswith: /v1/}", "{like: /v1/}"), 6, "unknown operator 'like'"),
    (with_change("[org_id, api_key_id]", "org_id"), 7, "group_by: expected a list of field names"),
    (with_change("api_key_id]", "'bad name']"), 7, "'bad name' is not a field name"),
    (with_change("severity: critical", "severity: page"), 3, "severity: expected one of critical"),
    (with_change("id: api_key_burst", "id: Bad Id"), 1, "id: expected [a-z0-9_.-]+"),
    (GOOD + "resolve_after: soon\n", 12, "resolve_after: bad duration 'soon'"),
    (GOOD + "colour: red\n", 12, "unknown key 'colour'"),
    (GOOD + "  field: tokens\n", 12, "count takes no field"),
    (with_change("{startswith: /v1/}", "{gt: high}"), 6, "where.endpoint.gt: expected a number"),
    (with_change("{startswith: /v1/}", "[a, b]"), 6, "a list is not a value; write `in: [...]`"),
    (with_change("{startswith: /v1/}", "null"), 6, "null is not a value"),
    (with_change("type: threshold", "type: threshold\n  bogus: 1"), 10, "detect.bogus: not an"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_bad_rule_reports_line_and_field(text, line, message):
    found = problems_of(text)
    assert any(p.startswith(f"r.yaml:{line}: ") and message in p for p in found), (text, found)


def test_all_problems_reported_not_just_first():
    text = GOOD.replace("severity: critical", "severity: loud").replace("60s", "sixty")
    found = problems_of(text)
    assert len(found) == 2
    assert found[0].startswith("r.yaml:3:") and found[1].startswith("r.yaml:10:")


def test_yaml_syntax_error_has_line():
    found = problems_of("id: x\ntitle: [unclosed\nseverity: info\n")
    assert len(found) == 1 and found[0].startswith("r.yaml:") and "YAML syntax" in found[0]


def test_duplicate_yaml_key_is_an_error():
    found = problems_of(GOOD + "severity: info\n")
    assert found == ["r.yaml:12: duplicate key 'severity'"]


def test_duplicate_ids_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleSetError) as err:
        load_rules([tmp_path])
    (problem,) = err.value.problems
    assert str(problem).startswith(f"{tmp_path / 'b.yaml'}:1: duplicate id 'api_key_burst'")
    assert f"{tmp_path / 'a.yaml'}:1" in str(problem)


def test_rules_list_file_and_errors_from_every_file(tmp_path):
    (tmp_path / "many.yaml").write_text(
        "rules:\n"
        "  - {id: a, title: A, severity: info, group_by: [org_id], detect: {type: match}}\n"
        "  - {id: b, title: B, severity: info, group_by: [org_id], detect: {type: nope}}\n"
    )
    (tmp_path / "other.yml").write_text(
        "id: c\ntitle: C\nseverity: info\ndetect: {type: absence}\n"
    )
    with pytest.raises(RuleSetError) as err:
        load_rules([tmp_path])
    text = [str(p) for p in err.value.problems]
    assert any(t.startswith(f"{tmp_path / 'many.yaml'}:3:") for t in text)
    assert any(
        t.startswith(f"{tmp_path / 'other.yml'}:4:") and "`window` is required" in t for t in text
    )


def test_combinators_and_not():
    text = GOOD.replace(
        "  endpoint: {startswith: /v1/}\n",
        "  any:\n    - {model: gpt-x}\n    - {status: {gte: 500}}\n"
        "  not: {ip: {cidr: 10.0.0.0/8}}\n",
    )
    (r,), problems = parse_rule_text(text, "r.yaml")
    assert problems == []
    assert isinstance(r.where, AllOf) and isinstance(r.where.items[-1], Not)


@pytest.mark.parametrize(
    ("detect", "message"),
    [
        ("{type: sequence, within: 10m, steps: [{where: {event_type: a}}]}", "at least 2 steps"),
        (
            "{type: sequence, within: 10m, steps: [{where: {event_type: a}, absent: true}, "
            "{where: {event_type: b}}]}",
            "absent: only the last step",
        ),
        ("{type: spike, window: 5m, factor: 1}", "factor: must be greater than 1"),
        ("{type: ratio, window: 5m, threshold: 0.5}", "`numerator` (a filter) is required"),
        ("{type: distinct, window: 5m, threshold: 3}", "`field` is required"),
        ("{type: threshold, window: 5m, threshold: 3, aggregate: sum}", "`field` is required"),
        ("{type: absence, window: 5m, threshold: 3}", "not an option of absence"),
    ],
)
def test_detector_specific_checks(detect, message):
    text = f"id: x\ntitle: X\nseverity: info\ngroup_by: [org_id]\ndetect: {detect}\n"
    found = problems_of(text)
    assert any(message in p for p in found), found


def test_summary_placeholders_checked():
    text = GOOD + "annotations:\n  summary: '{api_key_id} did {value}; {secret}'\n"
    found = problems_of(text)
    assert found == [
        "r.yaml:12: annotations.summary: unknown placeholder {secret} "
        "(use group fields, value, threshold, window, op, rule, title, field, group)"
    ]


def test_version_ignores_tests_but_tracks_logic():
    (a,), _ = parse_rule_text(GOOD, "r.yaml")
    (b,), _ = parse_rule_text(GOOD + "tests: []\n", "r.yaml")
    (c,), _ = parse_rule_text(GOOD.replace("1000", "1001"), "r.yaml")
    assert a.version == b.version != c.version


@pytest.mark.parametrize(
    "runbook",
    [
        "see the wiki",
        "runbooks.example/api-key-burst",
        "/runbooks/api-key-burst",
        "ftp://files.example/runbook.txt",
        "javascript:alert(1)",
        "https://",
        "https:///path-only",
        "http://runbooks example/x",
        "http://[::1/x",
        "https://runbooks.example/" + "x" * 1024,
    ],
)
def test_runbook_must_be_an_http_url(runbook):
    # It becomes the page's links[].href: PagerDuty wants a URL there.
    text = GOOD + f"annotations:\n  description: d\n  runbook: {json.dumps(runbook)}\n"
    found = problems_of(text)
    assert len(found) == 1 and found[0].startswith(
        "r.yaml:14: annotations.runbook: must be an http(s) URL"
    ), found


@pytest.mark.parametrize(
    "runbook",
    [
        "https://runbooks.example/api-key-burst",
        "http://wiki.internal:8080/display/TNS/Key+burst?x=1#steps",
        "HTTPS://Runbooks.Example/X",
        "https://runbooks.example/" + "x" * 998,
    ],
)
def test_http_runbooks_are_accepted(runbook):
    assert problems_of(GOOD + f"annotations:\n  runbook: {json.dumps(runbook)}\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "detect: {type: spike, window: 5m, factor: 5, baseline_windows: 9999999999999999999}",
            "detect.baseline_windows: expected a whole number <= 10,000",
        ),
        (
            "detect: {type: ratio, window: 5m, threshold: 0.5, numerator: {flagged: true}, "
            "min_count: 9999999999}",
            "detect.min_count: expected a whole number <= 2,147,483,647",
        ),
        (
            "detect: {type: threshold, window: 5m, threshold: 1}\nmax_groups: 9999999999",
            "max_groups: expected <= 2,147,483,647",
        ),
    ],
)
def test_whole_numbers_past_what_the_core_holds_fail_at_their_line(text, message):
    head = "id: r\ntitle: t\nseverity: warning\ngroup_by: [org_id]\n"
    _, problems = parse_rule_text(head + text + "\n", "r.yaml")
    assert [p.message for p in problems if message in p.message], [str(p) for p in problems]
    assert all(p.line >= 5 for p in problems)
