"""The `entities:` document of a rules directory: the hierarchy and the side entities.

entities:
  hierarchy: [org_id, account_id, api_key_id]   # top-down
  side: [ip]
"""

from __future__ import annotations

from typing import Any

from signalfire.entities import EntityModel
from signalfire.rules.problems import Problems
from signalfire.rules.yamlsrc import LineDict, LineList

KEYS = ("hierarchy", "side")


def build_entities(raw: Any, line: int, problems: Problems) -> EntityModel | None:
    """The model `raw` declares, or None with its problems added."""
    if not isinstance(raw, LineDict):
        problems.add(line, "entities: expected a mapping with `hierarchy` and `side`")
        return None
    before = len(problems.items)
    for key in raw:
        if key not in KEYS:
            problems.add(
                raw.line_of(key), f"entities: unknown key {key!r} (known: hierarchy, side)"
            )
    hierarchy = _names(raw, "hierarchy", problems)
    side = _names(raw, "side", problems)
    if hierarchy is not None and not hierarchy:
        problems.add(raw.line_of("hierarchy"), "entities.hierarchy: name at least one field")
    if len(problems.items) > before or hierarchy is None or side is None:
        return None
    try:
        return EntityModel(hierarchy, side)
    except ValueError as exc:
        problems.add(raw.line, f"entities: {exc}")
        return None


def _names(raw: LineDict, key: str, problems: Problems) -> tuple[str, ...] | None:
    if key not in raw:
        if key == "hierarchy":
            problems.add(raw.line, "entities: `hierarchy` is required (top-down: [org_id, ...])")
            return None
        return ()
    items = raw[key]
    if not isinstance(items, LineList):
        problems.add(raw.line_of(key), f"entities.{key}: expected a list of field names")
        return None
    names = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item or item.startswith(".") or item.endswith("."):
            problems.add(items.line_of(i), f"entities.{key}: expected a field name, got {item!r}")
            return None
        names.append(item)
    return tuple(names)
