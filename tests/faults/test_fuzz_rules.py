"""Fuzzing the rule loader (signalfire/rules/) with mutations of the shipped rule files.

Property, for every document: loading never raises; it gives rules or a list of problems,
each printed `file:line: message` with a line that exists in that file and a one-line
message. A rule that loads also compiles into a working engine. 100k+ documents go
through `parse_rule_text` (the loader's in-memory entry); a smaller batch goes through real
files and `load_rules`, including bytes that are not UTF-8.
"""

from __future__ import annotations

import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalfire.engine.core import CoreEngine
from signalfire.rules import RuleSetError, load_rules, parse_rule_text
from signalfire.rules.model import Rule
from signalfire.rules.problems import Problem
from tests.faults.rule_mutator import MINIMAL_KEYS, TINY_KEYS, RuleMutator, seed_documents

DOCUMENTS = 100_000
FILE_DOCUMENTS = 1_000
SEED = 6_2_3
EVENTS = [
    {"event_id": "e1", "ts": 1_000, "org_id": "o1", "account_id": "a1", "api_key_id": "k1",
     "ip": "203.0.113.7", "event_type": "request", "flagged": True, "status": 401,
     "prompt_tokens": 10, "completion_tokens": 5, "country": "DE", "endpoint": "/v1/chat",
     "attrs": {"plan": "free", "user_agent": "curl/8"}},
    {"event_id": "e2", "ts": 400_000, "org_id": "o1", "account_id": "a2", "ip": "10.1.2.3",
     "event_type": "signup", "categories": ["sexual/minors"], "attrs": {}},
]  # fmt: skip
RECORDS = [orjson.dumps(e) for e in EVENTS]


def line_count(text: str) -> int:
    return max(1, len(text.splitlines()))


def check_problems(problems: list[Problem], paths_lines: dict[str, int], doc: str) -> None:
    for p in problems:
        assert p.path in paths_lines, (p, doc[:300])
        assert 1 <= p.line <= paths_lines[p.path], (str(p)[:300], doc[:300])
        assert p.message.strip() and "\n" not in p.message and "\r" not in p.message, (
            str(p)[:300],
            doc[:300],
        )
        assert str(p) == f"{p.path}:{p.line}: {p.message}"


class Compiled:
    """Rules that load are compiled once each (by version, the first `limit` of them) and run
    over two events."""

    def __init__(self, limit: int = 1000) -> None:
        self.versions: set[str] = set()
        self.limit = limit

    def check(self, rules: list[Rule]) -> None:
        for rule in rules:
            if rule.version in self.versions or len(self.versions) >= self.limit:
                continue
            self.versions.add(rule.version)
            engine = CoreEngine([rule])
            assert not engine.process(RECORDS).dead_letters
            engine.flush()


def load(doc: str, path: str, compiled: Compiled) -> str:
    """One document through the loader: the outcome, or a test failure with the document."""
    try:
        rules, problems = parse_rule_text(doc, path)
    except BaseException:
        pytest.fail(f"loader raised on:\n{doc[:2000]!r}\n{traceback.format_exc()}")
    check_problems(problems, {path: line_count(doc)}, doc)
    if problems:
        return "syntax" if any("YAML syntax" in p.message for p in problems) else "invalid"
    try:
        compiled.check(rules)
    except BaseException:
        pytest.fail(f"loaded rule failed in the engine:\n{doc[:2000]!r}\n{traceback.format_exc()}")
    return "loaded" if rules else "empty"


def test_seeds_load_cleanly():
    for doc in seed_documents() + seed_documents(MINIMAL_KEYS) + seed_documents(TINY_KEYS):
        rules, problems = parse_rule_text("\n".join(doc) + "\n", "seed.yaml")
        assert not problems and len(rules) == 1, problems


def test_100k_mutated_rule_documents_never_raise_and_report_file_line():
    mutator = RuleMutator(SEED)
    compiled = Compiled()
    outcomes: Counter[str] = Counter()
    distinct: set[int] = set()
    n = 0
    for n, doc in enumerate(mutator.documents(DOCUMENTS), 1):
        distinct.add(hash(doc))
        outcomes[load(doc, f"rules/fuzz_{n % 97}.yaml", compiled)] += 1
    assert n == DOCUMENTS and len(distinct) > 0.9 * DOCUMENTS
    assert sum(mutator.sizes.values()) >= DOCUMENTS
    assert set(mutator.sizes) == {m[0] for m in mutator.mutations()}
    # Mutations reach every outcome: the property was checked on each of them.
    assert outcomes["syntax"] > 1000 and outcomes["invalid"] > 10_000, outcomes
    assert outcomes["loaded"] > 1000 and len(compiled.versions) > 500, outcomes


def test_mutated_rule_files_through_load_rules(tmp_path: Path):
    """Real files, including raw bytes that are not UTF-8: every problem names its file and a
    line of that file; a directory with one bad file reports it beside the others."""
    mutator = RuleMutator(SEED + 1)
    docs = list(mutator.documents(FILE_DOCUMENTS))
    seen = 0
    for batch in range(0, FILE_DOCUMENTS, 100):
        folder = tmp_path / f"b{batch}"
        folder.mkdir()
        lines: dict[str, int] = {}
        for k, doc in enumerate(docs[batch : batch + 100]):
            path = folder / f"r{k:03}.yaml"
            data = doc.encode("utf-8", "surrogateescape")
            if k % 10 == 0:  # raw junk bytes, as a broken editor or copy would leave them
                data = data[: k * 3] + b"\xff\xfe\xc3(" + data[k * 3 :]
            path.write_bytes(data)
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = ""
            lines[str(path)] = line_count(text)
            seen += 1
        try:
            load_rules([folder])
        except RuleSetError as exc:
            check_problems(exc.problems, lines, f"batch {batch}")
            assert str(exc) == "\n".join(str(p) for p in exc.problems)
            undecodable = [p for p in exc.problems if "cannot read" in p.message]
            assert len(undecodable) >= 5
        except BaseException:
            pytest.fail(f"load_rules raised on batch {batch}:\n{traceback.format_exc()}")
        else:
            pytest.fail("a batch of mutated files loaded without a single problem")
    assert seen == FILE_DOCUMENTS


def test_duplicate_ids_across_files_point_at_both(tmp_path: Path):
    doc = "\n".join(seed_documents()[0]) + "\n"
    (tmp_path / "a.yaml").write_text(doc)
    (tmp_path / "b.yaml").write_text("# copy\n" + doc)
    with pytest.raises(RuleSetError) as exc:
        load_rules([tmp_path])
    (problem,) = exc.value.problems
    assert problem.path == str(tmp_path / "b.yaml") and problem.line == 2
    assert f"first defined at {tmp_path / 'a.yaml'}:1" in problem.message


# -- Hypothesis: rule mappings with values of any YAML type ----------------------------------

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(),
    st.binary(max_size=4),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
good_parts: dict[str, st.SearchStrategy[Any]] = {
    "id": st.from_regex(r"[a-z0-9_.-]{1,20}", fullmatch=True),
    "title": st.text(min_size=1, max_size=20),
    "severity": st.sampled_from(("critical", "error", "warning", "info")),
    "group_by": st.lists(st.sampled_from(("org_id", "ip", "api_key_id", "attrs.plan")), max_size=3),
    "where": st.dictionaries(
        st.sampled_from(("ip", "event_type", "status", "attrs.user_agent")),
        st.one_of(
            st.text(max_size=8),
            st.fixed_dictionaries({"regex": st.text(max_size=8)}),
            st.fixed_dictionaries({"cidr": st.text(max_size=18)}),
            st.fixed_dictionaries({"in": st.lists(yaml_scalars, max_size=3)}),
            st.fixed_dictionaries({"gt": yaml_scalars}),
        ),
        max_size=3,
    ),
    "detect": st.fixed_dictionaries(
        {"type": st.sampled_from(("threshold", "distinct", "match", "spike", "thresold"))},
        optional={
            "window": st.sampled_from(("60s", "5m", "0s", "1x", 60)),
            "threshold": yaml_scalars,
            "field": st.sampled_from(("ip", "prompt_tokens", "9bad")),
            "factor": yaml_scalars,
        },
    ),
    "throttle": st.sampled_from(("1h", "0", "10", "-1m")),
    "max_groups": yaml_scalars,
}


@st.composite
def rule_mappings(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    for key, good in good_parts.items():
        choice = draw(st.sampled_from(("good", "good", "good", "absent", "any")))
        if choice == "good":
            rule[key] = draw(good)
        elif choice == "any":
            rule[key] = draw(yaml_values)
    return rule


def test_hypothesis_rule_mappings_with_values_of_any_type():
    seen = 0
    compiled = Compiled()

    @settings(
        max_examples=600,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rule_mappings())
    def run(rule: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        load(yaml.safe_dump(rule, allow_unicode=True), "h.yaml", compiled)

    run()
    assert seen >= 600


# -- regressions: each of these raised out of the loader (or hung in it) before ------------------

BASE = "\n".join(seed_documents()[0]) + "\n"


def problems_of(text: str) -> list[str]:
    rules, problems = parse_rule_text(text, "r.yaml")
    assert not rules
    check_problems(problems, {"r.yaml": line_count(text)}, text)
    return [str(p) for p in problems]


def swap(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000, "r.yaml:1: YAML syntax: nested deeper than 50 levels"),  # RecursionError
        ("where: " + "{a: " * 5000, "r.yaml:1: YAML syntax: nested deeper than 50 levels"),
        (swap("type: threshold", "type: [threshold]"), "unknown detector type ['threshold']"),
        (swap("type: threshold", "type: {a: 1}"), "unknown detector type {'a': 1}"),  # TypeError
        (swap("threshold: 1000", "threshold: 1" + "0" * 400), "integer too large"),  # Overflow
        (swap("threshold: 1000", "threshold: 1" + "0" * 5000), "integer too large"),  # ValueError
        (swap("threshold: 1000", "threshold: 100000000000000000000"), "64-bit range"),  # orjson
        (swap("event_type: request", "event_type: !!binary aGk="), "expected a string, number"),
        (swap("event_type: request", "event_type: !!set {a}"), "expected a string, number"),
        (swap("event_type: request", 'ip: {regex: "\\ud800"}'), "lone surrogate"),
        (swap("event_type: request", 'event_type: "\\udfff"'), "lone surrogate"),
        (swap("window: 60s", "window: " + "9" * 5000 + "d"), "too long"),  # ValueError
        (swap("event_type: request", "not: {" * 60 + "a: 1" + "}" * 60), "deeper than 50"),
        ("x: &r [*r]\n", "r.yaml:1: YAML syntax: an alias refers to its own anchor"),
        (swap("type: threshold", "type: !!timestamp x"), "cannot read 'x' as !!timestamp"),
        (swap("type: threshold", "type: !!float x"), "cannot read 'x' as !!float"),  # ValueError
        (swap("type: threshold", "type: !!bool x"), "cannot read 'x' as !!bool"),  # KeyError
        (swap("event_type: request", "event_type: 2024-02-30"), "as !!timestamp"),
        (swap("type: threshold", "type: !!map x"), "expected a mapping"),  # AssertionError
        (swap("type: threshold", "type: !!int [1]"), "expected a single value"),
        (swap("owner: tns-oncall", "owner: !!binary aGk="), "owner: expected text"),  # orjson
        (swap("owner: tns-oncall", "description: !!set {a}"), "description: expected text"),
    ],
)
def test_inputs_that_used_to_crash_the_loader(text, expected):
    found = problems_of(text)
    assert any(expected in p for p in found), found


def test_alias_bomb_is_refused_at_once():
    # 9 ** 9 filters once expanded: the loader used to walk them all (hours).
    lines = ["x-bomb:", "  - &l0 {event_type: request}"]
    lines += [f"  - &l{n} {{all: [{', '.join([f'*l{n - 1}'] * 9)}]}}" for n in range(1, 10)]
    text = BASE.replace("where:\n  event_type: request\n", "where: *l9\n")
    found = problems_of("\n".join(lines) + "\n" + text)
    assert any("more than 200000 values once aliases are expanded" in p for p in found), found


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_threshold_is_a_problem(value):
    # A NaN threshold never compares true: the rule loaded and could never fire.
    assert any("expected a finite number" in p for p in problems_of(swap("1000", value)))


def test_error_at_end_of_stream_is_on_the_last_line():
    # PyYAML marks it on the line after a final newline: a line the file does not have.
    assert problems_of("id: x\nlabels: [a, b\n") == [
        "r.yaml:2: YAML syntax: expected ',' or ']', but got '<stream end>'"
    ]


def test_unprintable_character_is_reported_on_its_line():
    found = problems_of(BASE + "owner: a\x00b\n")
    assert found[0].startswith(f"r.yaml:{line_count(BASE) + 1}: YAML syntax: unacceptable")
