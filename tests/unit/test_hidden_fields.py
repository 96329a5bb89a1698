"""`rules check` warnings: rules whose pages would show `[redacted]` where their point is."""

import textwrap

import pytest

from alerting.redact import Redaction
from signalfire.cli.hidden_fields import redaction_warnings
from signalfire.rules import load_rules

HEAD = "id: r\ntitle: R\nseverity: info\n"


@pytest.mark.parametrize(
    ("body", "redact", "expected"),
    [
        pytest.param(
            "group_by: [org_id, ip]\ndetect: {type: match}\n",
            [],
            [],
            id="nothing hidden",
        ),
        pytest.param(
            "group_by: [org_id, ip]\ndetect: {type: match}\n",
            ["ip"],
            [(4, "group_by: 'ip' is redacted (--redact 'ip'): every page of rule 'r' shows "
                 "[redacted] for it in its group")],
            id="group_by hidden by --redact",
        ),
        pytest.param(
            "group_by:\n  - org_id\n  - attrs.client_secret\ndetect: {type: match}\n",
            [],
            [(6, "group_by: 'attrs.client_secret' is redacted (always: '*secret*')")],
            id="group_by always hidden, block list line",
        ),
        pytest.param(
            "detect:\n  type: new_value\n  field: attrs.api_key\n",
            [],
            [(6, "detect.field: 'attrs.api_key' is redacted (always: '*.api_key'): every page "
                 "of rule 'r' shows [redacted] for the new value and the known values")],
            id="new_value field",
        ),
        pytest.param(
            "detect: {type: distinct, field: ip, window: 1m, threshold: 5}\n",
            ["attrs.*", "ip"],
            [(4, "detect.field: 'ip' is redacted (--redact 'ip'): every page of rule 'r' shows "
                 "[redacted] for the distinct values")],
            id="distinct field",
        ),
        pytest.param(
            "detect: {type: threshold, aggregate: max, field: attrs.pin, window: 1m, "
            "threshold: 5}\n",
            ["attrs.*"],
            [(4, "detect.field: 'attrs.pin' is redacted (--redact 'attrs.*'), but the max is "
                 "one of its values: pages show it in the value")],
            id="threshold max of a hidden field",
        ),
        pytest.param(
            "detect: {type: threshold, aggregate: sum, field: attrs.pin, window: 1m, "
            "threshold: 5}\n",
            ["attrs.*"],
            [],
            id="threshold sum is not a value",
        ),
        pytest.param(
            "detect: {type: threshold, window: 1m, threshold: 5}\n"
            "evidence:\n  top: [model, ip, attrs.password]\n",
            ["ip"],
            [(6, "evidence.top: 'ip' is redacted (--redact 'ip'): its top values show as "
                 "[redacted]"),
             (6, "evidence.top: 'attrs.password' is redacted (always: '*password*')")],
            id="evidence.top",
        ),
        pytest.param(
            "group_by: [ip]\ndetect: {type: new_value, field: ip}\nevidence: {top: [ip]}\n",
            ["ip"],
            [(4, "group_by: 'ip'"), (5, "detect.field: 'ip'"), (6, "evidence.top: 'ip'")],
            id="one field in every place",
        ),
    ],
)  # fmt: skip
def test_warnings_name_the_place_the_field_and_why(tmp_path, body, redact, expected):
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + body)
    rules = load_rules([path]).rules
    warnings = redaction_warnings(rules, Redaction.of(redact))
    assert len(warnings) == len(expected), [str(w) for w in warnings]
    for warning, (line, text) in zip(warnings, expected, strict=True):
        assert warning.path == str(path) and warning.line == line
        assert str(warning).startswith(f"{path}:{line}: warning: {text}")


def test_rules_in_a_list_are_placed_on_their_own_lines(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(
        textwrap.dedent("""\
        rules:
          - id: a
            title: A
            severity: info
            detect: {type: match}
          - id: b
            title: B
            severity: info
            group_by: [org_id, ip]
            detect: {type: match}
    """)
    )
    (warning,) = redaction_warnings(load_rules([path]).rules, Redaction.of(["ip"]))
    assert str(warning).startswith(f"{path}:9: warning: group_by: 'ip' is redacted")


def test_the_catalogue_has_no_rule_made_blind_by_the_always_redacted_fields():
    assert redaction_warnings(load_rules(["rules"]).rules, Redaction()) == []
