"""Summary templates: `{name}` placeholders filled from a fixed set of names, never evaluated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
BASE_NAMES = frozenset(
    {"value", "threshold", "window", "op", "rule", "title", "severity", "field", "group"}
)


def unknown_placeholders(template: str, group_names: Iterable[str]) -> list[str]:
    allowed = BASE_NAMES | set(group_names)
    return [name for name in PLACEHOLDER.findall(template) if name not in allowed]


def render(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
