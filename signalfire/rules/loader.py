"""Loading a rules directory: every file parsed and checked, every problem collected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from signalfire.entities import DEFAULT_MODEL, EntityModel
from signalfire.rules.build import build_rule
from signalfire.rules.entities_doc import build_entities
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
    entities: EntityModel = DEFAULT_MODEL

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


@dataclass(slots=True)
class ParsedFile:
    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # The `entities:` document, and its line, when the file declares one.
    entities: tuple[EntityModel, int] | None = None


def parse_rule_text(text: str, path: str) -> tuple[list[Rule], list[Problem]]:
    """Rules of one file: a single rule mapping or a mapping with a `rules:` list."""
    parsed = parse_file(text, path)
    return parsed.rules, parsed.problems


def parse_file(text: str, path: str) -> ParsedFile:
    """One file of a rules directory: a rule mapping, or a mapping of `rules:` (a list of
    rules) and `entities:` (the entity model), either or both."""
    problems = Problems(path)
    out = ParsedFile(problems=problems.items)
    try:
        doc = load_yaml(text)
    except YamlSyntaxError as exc:
        problems.add(exc.line, exc.message)
        return out
    if doc is None:
        problems.add(1, "empty file: expected a rule mapping, `rules: [...]` or `entities:`")
        return out
    raw_rules: list[tuple[object, int]] = []
    if isinstance(doc, LineDict) and ("rules" in doc or "entities" in doc) and "id" not in doc:
        for key in doc:
            if key not in ("rules", "entities"):
                problems.add(doc.line_of(key), f"unknown key {key!r} beside `rules:`")
        if "entities" in doc:
            line = doc.line_of("entities")
            model = build_entities(doc["entities"], line, problems)
            if model is not None:
                out.entities = (model, line)
        if "rules" in doc:
            items = doc["rules"]
            if not isinstance(items, LineList):
                problems.add(doc.line_of("rules"), "rules: expected a list of rules")
            else:
                raw_rules = [(item, items.line_of(i)) for i, item in enumerate(items)]
    else:
        raw_rules = [(doc, getattr(doc, "line", 1))]
    for raw, line in raw_rules:
        rule = build_rule(raw, line, problems)
        if rule is not None:
            out.rules.append(rule)
    problems.items.sort(key=lambda p: p.line)
    return out


def load_rules(paths: Iterable[str | Path]) -> RuleSet:
    """Every rule under `paths`; raises RuleSetError listing all problems of all files."""
    files = rule_files(paths)
    all_problems: list[Problem] = []
    rules: list[Rule] = []
    first_seen: dict[str, Rule] = {}
    declared: tuple[EntityModel, str] | None = None
    if not files:
        all_problems.append(Problem(", ".join(str(p) for p in paths), 0, "no rule files found"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            all_problems.append(Problem(str(path), 1, f"cannot read: {exc}"))
            continue
        parsed = parse_file(text, str(path))
        all_problems.extend(parsed.problems)
        if parsed.entities is not None:
            model, line = parsed.entities
            if declared is not None:
                where = f"first declared at {declared[1]}"
                all_problems.append(Problem(str(path), line, f"entities: declared twice ({where})"))
            else:
                declared = (model, f"{path}:{line}")
        for rule in parsed.rules:
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
    if declared is None:
        return RuleSet(tuple(rules))
    model = declared[0]
    return RuleSet(tuple(replace(r, entities=model.for_group(r.group_names)) for r in rules), model)
