"""`entities:` in a rules directory: parsed with `file:line` errors, applied to every rule."""

from pathlib import Path

import pytest

from signalfire.entities import DEFAULT_MODEL, EntityModel
from signalfire.rules import RuleSetError, load_rules

RULE = """\
id: per_device
title: per device
severity: warning
group_by: [device]
detect: {type: threshold, window: 60s, threshold: 10}
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_without_a_declaration_the_default_model_fits_the_event_contract(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, {"r.yaml": RULE})])
    assert ruleset.entities == DEFAULT_MODEL
    assert ruleset.rules[0].entities.order == ("org_id", "account_id", "api_key_id")


def test_a_declared_model_applies_to_every_rule(tmp_path: Path) -> None:
    entities = "entities:\n  hierarchy: [tenant, user]\n  side: [device, ip]\n"
    ruleset = load_rules([write(tmp_path, {"r.yaml": RULE, "entities.yaml": entities})])
    assert ruleset.entities == EntityModel(("tenant", "user"), ("device", "ip"))
    (r,) = ruleset.rules
    assert r.entities.order == ("tenant", "user", "device")
    assert r.entities.parents == ("tenant", "user")
    # what the detectors count per group: the parents, after what evidence.top asks for
    assert r.counted_fields == (("tenant",), ("user",))


def test_entities_may_sit_beside_rules_in_one_file(tmp_path: Path) -> None:
    text = "entities:\n  hierarchy: [tenant]\nrules:\n" + "".join(
        "  - " + line + "\n" if i == 0 else "    " + line + "\n"
        for i, line in enumerate(RULE.splitlines())
    )
    ruleset = load_rules([write(tmp_path, {"all.yaml": text})])
    assert ruleset.entities.hierarchy == ("tenant",)
    assert ruleset.entities.side == ()
    assert [r.id for r in ruleset.rules] == ["per_device"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entities: [org_id]\n", "a.yaml:1: entities: expected a mapping with `hierarchy`"),
        ("entities:\n  side: [ip]\n", "a.yaml:2: entities: `hierarchy` is required"),
        ("entities:\n  hierarchy: []\n", "a.yaml:2: entities.hierarchy: name at least one"),
        ("entities:\n  hierarchy: org_id\n", "a.yaml:2: entities.hierarchy: expected a list"),
        (
            "entities:\n  hierarchy:\n    - org_id\n    - 3\n",
            "a.yaml:4: entities.hierarchy: expected a field name, got 3",
        ),
        (
            "entities:\n  hierarchy: [org_id]\n  levels: [x]\n",
            "a.yaml:3: entities: unknown key 'levels'",
        ),
        (
            "entities:\n  hierarchy: [org_id, ip]\n  side: [ip]\n",
            "a.yaml:2: entities: an entity is named twice: ip",
        ),
    ],
)
def test_a_bad_declaration_fails_at_its_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RuleSetError) as exc:
        load_rules([write(tmp_path, {"a.yaml": text, "r.yaml": RULE})])
    assert any(str(p).endswith(message) or message in str(p) for p in exc.value.problems), [
        str(p) for p in exc.value.problems
    ]
    assert all(str(p).startswith(str(tmp_path)) for p in exc.value.problems)


def test_two_declarations_are_refused_with_both_places(tmp_path: Path) -> None:
    decl = "entities:\n  hierarchy: [org_id]\n"
    with pytest.raises(RuleSetError) as exc:
        load_rules([write(tmp_path, {"a.yaml": decl, "b.yaml": decl, "r.yaml": RULE})])
    (problem,) = exc.value.problems
    assert (
        str(problem) == f"{tmp_path}/b.yaml:1: entities: declared twice (first declared at "
        f"{tmp_path}/a.yaml:1)"
    )
