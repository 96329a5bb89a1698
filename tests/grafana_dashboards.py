"""Signalfire's Grafana dashboards (deploy/grafana/dashboards) read as data.

Both the file checks and the query test against a real Prometheus walk the same panels and
targets, substitute Grafana variables the same way, and find metric names in PromQL the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# Variables Grafana itself defines; a dashboard may use them without declaring them.
GRAFANA_VARIABLES = frozenset(
    {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms"}
)

# `$name`, `${name}`, `${name:format}` and the deprecated `[[name]]`.
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan", "atan2"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Target:
    """One query of one panel."""

    dashboard: str
    panel: str
    ref: str
    expr: str
    datasource: Mapping[str, Any] | None

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}: {self.expr}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    model: dict[str, Any] = json.loads(path.read_text())
    return model


def panels(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(name: str, model: Mapping[str, Any]) -> list[Target]:
    return [
        Target(name, p.get("title", ""), t.get("refId", ""), t.get("expr", ""), t.get("datasource"))
        for p in panels(model)
        for t in p.get("targets", [])
    ]


def variables(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = model.get("templating", {}).get("list", [])
    return found


def used_variables(expr: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(expr)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """The query Grafana sends, with each variable replaced by `values[name]`."""

    def value(m: re.Match[str]) -> str:
        name = next(g for g in m.groups() if g)
        if name not in values:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(value, expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (label names, functions and keywords left out)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    return {m for m in _IDENTIFIER.findall(text) if m.lower() not in _KEYWORDS}


def label_values_query(definition: str) -> tuple[str, str] | None:
    """`label_values(metric, label)` as (metric, label); None for any other variable query."""
    m = re.fullmatch(r"\s*label_values\(\s*([\w:]+)\s*,\s*(\w+)\s*\)\s*", definition)
    return (m.group(1), m.group(2)) if m else None
