"""`mode: live|shadow`: a shadow rule runs as any other, its pages go to the shadow topic."""

import pytest

from signalfire.rules import parse_rule_text
from signalfire.rules.model import LIVE, SHADOW, Rule
from signalfire.ruletest import run_rule_tests
from tests.unit.rules.test_loader import GOOD

CASES = """\
tests:
  - name: fires
    events: [{ts: 0, org_id: o1, api_key_id: k1, event_type: request, endpoint: /v1/x, repeat: 3}]
    expect: [{action: trigger, group: {org_id: o1, api_key_id: k1}}]
"""


def load(text: str) -> tuple[list[Rule], list[str]]:
    rules, problems = parse_rule_text(text, "r.yaml")
    return list(rules), [str(p) for p in problems]


@pytest.mark.parametrize(
    ("line", "mode"), [("", LIVE), ("mode: live\n", LIVE), ("mode: shadow\n", SHADOW)]
)
def test_mode_defaults_to_live(line, mode):
    (rule,), problems = load(GOOD + line)
    assert problems == [] and rule.mode == mode and rule.shadow == (mode == SHADOW)


@pytest.mark.parametrize("value", ["canary", "Shadow", "true", "[live]", "1"])
def test_a_bad_mode_is_a_problem_at_its_line(value):
    rules, problems = load(
        GOOD.replace("severity: critical\n", f"severity: critical\nmode: {value}\n")
    )
    assert rules == []
    assert len(problems) == 1 and problems[0].startswith("r.yaml:4: mode: expected live or shadow")


def test_the_mode_leaves_the_version_alone():
    # Promoting a shadow rule to live keeps its version: what it detects has not changed.
    (live,), _ = load(GOOD)
    (shadow,), _ = load(GOOD + "mode: shadow\n")
    assert live.version == shadow.version and live != shadow


def test_rules_test_runs_a_shadow_rules_cases():
    (rule,), problems = load(
        GOOD.replace("threshold: 1000", "threshold: 2") + "mode: shadow\n" + CASES
    )
    assert problems == []
    [result] = run_rule_tests([rule])
    assert result.passed, result
