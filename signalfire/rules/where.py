"""Parsing and checking of `where:` filters into the Filter tree of `model`."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from signalfire.rules.model import MATCH_ALL, AllOf, AnyOf, Cond, Filter, Not
from signalfire.rules.problems import Problems
from signalfire.rules.regex import RegexError, compile_pattern
from signalfire.rules.yamlsrc import LineDict, LineList

OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startswith",
    "endswith",
    "regex",
    "cidr",
    "exists",
)
FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def parse_path(text: object, line: int, problems: Problems, what: str) -> tuple[str, ...] | None:
    if not isinstance(text, str) or not FIELD_PATH.match(text):
        problems.add(line, f"{what}: {text!r} is not a field name (use name or dotted.path)")
        return None
    return tuple(text.split("."))


def parse_filter(node: object, line: int, problems: Problems, where: str = "where") -> Filter:
    """A mapping of field -> condition (all must hold) plus `all`/`any`/`not` combinators."""
    if node is None:
        return MATCH_ALL
    if not isinstance(node, LineDict):
        problems.add(line, f"{where}: expected a mapping of field: condition")
        return MATCH_ALL
    items: list[Filter] = []
    for key, value in node.items():
        key_line = node.line_of(key)
        if key in ("all", "any"):
            items.append(_parse_combinator(key, value, key_line, problems, where))
        elif key == "not":
            items.append(Not(parse_filter(value, key_line, problems, f"{where}.not")))
        else:
            path = parse_path(key, key_line, problems, where)
            if path is not None:
                items.extend(_parse_field(path, value, key_line, problems, where))
    return items[0] if len(items) == 1 else AllOf(tuple(items))


def _parse_combinator(key: str, value: object, line: int, problems: Problems, where: str) -> Filter:
    if not isinstance(value, LineList) or not value:
        problems.add(line, f"{where}.{key}: expected a non-empty list of filters")
        return MATCH_ALL
    parts = tuple(
        parse_filter(item, value.line_of(i), problems, f"{where}.{key}[{i}]")
        for i, item in enumerate(value)
    )
    return AllOf(parts) if key == "all" else AnyOf(parts)


def _parse_field(
    path: tuple[str, ...], value: object, line: int, problems: Problems, where: str
) -> list[Filter]:
    name = ".".join(path)
    if isinstance(value, LineDict):
        conds: list[Filter] = []
        for op, arg in value.items():
            op_line = value.line_of(op)
            if op not in OPERATORS:
                problems.add(
                    op_line,
                    f"{where}.{name}: unknown operator {op!r} (known: {', '.join(OPERATORS)})",
                )
                continue
            checked = _check_arg(op, arg, op_line, problems, f"{where}.{name}.{op}")
            if checked is not None:
                conds.append(Cond(path, op, checked))
        return conds
    if isinstance(value, LineList):
        problems.add(line, f"{where}.{name}: a list is not a value; write `in: [...]`")
        return []
    if value is None:
        problems.add(line, f"{where}.{name}: null is not a value; write `exists: false`")
        return []
    if not is_scalar(value):  # a YAML date, !!binary or !!set: never equal to a JSON value
        problems.add(line, f"{where}.{name}: expected a string, number or boolean (quote it)")
        return []
    return [Cond(path, "eq", value)]


def _check_arg(op: str, arg: Any, line: int, problems: Problems, where: str) -> Any:
    """The argument in the form the compiler uses, or None after recording a problem."""
    bad = None
    if op in ("eq", "ne", "contains"):
        if not is_scalar(arg):
            bad = "expected a string, number or boolean"
    elif op in ("in", "not_in"):
        if not isinstance(arg, list) or not arg or not all(is_scalar(a) for a in arg):
            bad = "expected a non-empty list of strings, numbers or booleans"
        else:
            return tuple(arg)
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            bad = "expected a number"
    elif op in ("startswith", "endswith"):
        args = arg if isinstance(arg, list) else [arg]
        if not args or not all(isinstance(a, str) for a in args):
            bad = "expected a string or a list of strings"
        else:
            return tuple(args)
    elif op == "regex":
        if not isinstance(arg, str):
            bad = "expected a regular expression string (docs/rules.md: regex syntax)"
        else:
            try:
                compile_pattern(arg)
            except RegexError as exc:
                bad = f"invalid regex {arg!r}: {exc}"
    elif op == "cidr":
        bad, nets = _check_cidrs(arg)
        if bad is None:
            return nets
    elif op == "exists" and not isinstance(arg, bool):
        bad = "expected true or false"
    if bad is not None:
        problems.add(line, f"{where}: {bad}")
        return None
    return arg


def _check_cidrs(arg: object) -> tuple[str | None, tuple[str, ...]]:
    args = arg if isinstance(arg, list) else [arg]
    if not args or not all(isinstance(a, str) for a in args):
        return "expected a CIDR string or a list of them", ()
    for text in args:
        try:
            ipaddress.ip_network(str(text), strict=False)
        except ValueError as exc:
            return f"invalid cidr {text!r}: {exc}", ()
    return None, tuple(args)
