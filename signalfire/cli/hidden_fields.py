"""Rules whose pages redaction would blind: warnings for `signalfire rules check`.

A rule that groups by a redacted field pages `[redacted]` for every group it finds; a
`new_value` or `distinct` rule over one shows `[redacted]` for the very values it is about.
These rules are valid, so they are warnings, placed on the line that names the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from alerting.redact import ALWAYS_REDACTED, Redaction
from signalfire.rules.model import Rule
from signalfire.rules.problems import Problem
from signalfire.rules.yamlsrc import LineDict, LineList, YamlSyntaxError, load_yaml

# A min or max is one of the field's values; the redaction of pages cannot see which field a
# threshold aggregates, so it stays in `value` and the summary.
VALUE_AGGREGATES = frozenset({"min", "max"})
VALUES_SHOWN = {
    "new_value": "the new value and the known values",
    "distinct": "the distinct values",
}


def redaction_warnings(rules: Iterable[Rule], redaction: Redaction) -> list[Problem]:
    """One `warning:` problem per place a rule names a field that `redaction` hides."""
    out: list[Problem] = []
    sources: dict[str, list[LineDict]] = {}
    for rule in rules:
        raw = _raw_rule(rule, sources)
        for line, key, field, consequence in _places(rule, raw):
            pattern = redaction.pattern_for(field)
            if pattern is None:
                continue
            origin = "always:" if pattern in ALWAYS_REDACTED else "--redact"
            message = f"warning: {key}: {field!r} is redacted ({origin} {pattern!r}){consequence}"
            out.append(Problem(rule.path, line, message))
    return out


def _places(rule: Rule, raw: LineDict | None) -> Iterator[tuple[int, str, str, str]]:
    """(line, key, field, what its redaction does to the pages) for every field whose values
    a page shows."""
    every_page = f": every page of rule {rule.id!r} shows [redacted]"
    for name in rule.group_names:
        line = _item_line(raw, ("group_by",), name, rule.line)
        yield line, "group_by", name, f"{every_page} for it in its group"
    d = rule.detect
    if d.field is not None:
        field, line = ".".join(d.field), _key_line(raw, ("detect", "field"), rule.line)
        shown = VALUES_SHOWN.get(d.type)
        if shown is not None:
            yield line, "detect.field", field, f"{every_page} for {shown}"
        elif d.type == "threshold" and d.aggregate in VALUE_AGGREGATES:
            tail = f", but the {d.aggregate} is one of its values: pages show it in the value"
            yield line, "detect.field", field, tail
    for path in rule.evidence_top:
        name = ".".join(path)
        line = _item_line(raw, ("evidence", "top"), name, rule.line)
        yield line, "evidence.top", name, ": its top values show as [redacted]"


def _raw_rule(rule: Rule, sources: dict[str, list[LineDict]]) -> LineDict | None:
    """The rule's mapping as written, with its lines (None if the file no longer has it)."""
    if rule.path not in sources:
        sources[rule.path] = _mappings(rule.path)
    for raw in sources[rule.path]:
        if raw.get("id") == rule.id:
            return raw
    return None


def _mappings(path: str) -> list[LineDict]:
    try:
        doc = load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlSyntaxError):
        return []
    if isinstance(doc, LineDict) and "id" not in doc and isinstance(doc.get("rules"), list):
        return [item for item in doc["rules"] if isinstance(item, LineDict)]
    return [doc] if isinstance(doc, LineDict) else []


def _node(raw: LineDict | None, keys: tuple[str, ...]) -> tuple[LineDict | None, Any]:
    """(the mapping holding the last key, the value under it) along `keys`."""
    parent: LineDict | None = None
    node: Any = raw
    for key in keys:
        if not isinstance(node, LineDict) or key not in node:
            return (node if isinstance(node, LineDict) else parent), None
        parent, node = node, node[key]
    return parent, node


def _key_line(raw: LineDict | None, keys: tuple[str, ...], default: int) -> int:
    parent, _ = _node(raw, keys)
    return parent.line_of(keys[-1]) if parent is not None else default


def _item_line(raw: LineDict | None, keys: tuple[str, ...], item: str, default: int) -> int:
    parent, node = _node(raw, keys)
    if isinstance(node, LineList) and item in node:
        return node.line_of(node.index(item))
    return parent.line_of(keys[-1]) if parent is not None else default
