"""Loading a rules directory: every file parsed and checked, every problem collected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signalfire.rules.build import build_rule
from signalfire.rules.model import Rule
from signalfire.rules.problems import Problem, Problems
from signalfire.rules.yamlsrc import LineDict, LineList, YamlSyntaxError, load_yaml

RULE_SUFFIXES = (".yaml", ".yml")


class RuleSetError(Exception):
    """A rule set that cannot be used; `problems` lists every `file:line: message`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files under the given directories (recursively) and the given files, sorted.

    Hidden entries are skipped: a Kubernetes ConfigMap volume keeps a second copy of every file
    in `..<timestamp>/`, and editors leave lock files such as `.#rule.yaml`.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in RULE_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            found.append(path)
    return found


def parse_rule_text(text: str, path: str) -> tuple[list[Rule], list[Problem]]:
    """Rules of one file: a single rule mapping or a mapping with a `rules:` list."""
    problems = Problems(path)
    try:
        doc = load_yaml(text)
    except YamlSyntaxError as exc:
        problems.add(exc.line, exc.message)
        return [], problems.items
    if doc is None:
        problems.add(1, "empty file: expected a rule mapping or `rules: [...]`")
        return [], problems.items
    if isinstance(doc, LineDict) and "rules" in doc and "id" not in doc:
        extra = [k for k in doc if k != "rules"]
        for key in extra:
            problems.add(doc.line_of(key), f"unknown key {key!r} beside `rules:`")
        items = doc["rules"]
        if not isinstance(items, LineList):
            problems.add(doc.line_of("rules"), "rules: expected a list of rules")
            return [], problems.items
        raw_rules = [(item, items.line_of(i)) for i, item in enumerate(items)]
    else:
        raw_rules = [(doc, getattr(doc, "line", 1))]
    rules = []
    for raw, line in raw_rules:
        rule = build_rule(raw, line, problems)
        if rule is not None:
            rules.append(rule)
    return rules, sorted(problems.items, key=lambda p: p.line)


def load_rules(paths: Iterable[str | Path]) -> RuleSet:
    """Every rule under `paths`; raises RuleSetError listing all problems of all files."""
    files = rule_files(paths)
    all_problems: list[Problem] = []
    rules: list[Rule] = []
    first_seen: dict[str, Rule] = {}
    if not files:
        all_problems.append(Problem(", ".join(str(p) for p in paths), 0, "no rule files found"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            all_problems.append(Problem(str(path), 1, f"cannot read: {exc}"))
            continue
        file_rules, problems = parse_rule_text(text, str(path))
        all_problems.extend(problems)
        for rule in file_rules:
            other = first_seen.get(rule.id)
            if other is not None:
                all_problems.append(
                    Problem(
                        rule.path,
                        rule.line,
                        f"duplicate id {rule.id!r} (first defined at {other.path}:{other.line})",
                    )
                )
                continue
            first_seen[rule.id] = rule
            rules.append(rule)
    if all_problems:
        raise RuleSetError(all_problems)
    return RuleSet(tuple(rules))
