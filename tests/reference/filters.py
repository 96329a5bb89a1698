"""A rule's validated filter tree as a predicate over events, and what a rule selects.

Values compare with JSON typing: a boolean is never a number, `1` equals `1.0`, a list is not
a scalar member of `in`. A field missing on the way down a path is absent (`None`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from signalfire.rules.model import AllOf, AnyOf, Cond, Filter, Not
from signalfire.rules.regex import compile_pattern
from tests.reference.events import Event
from tests.reference.jsonkey import key_of

Predicate = Callable[[Event], bool]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ValueMode = Literal["none", "number", "hashable", "filter", "mask"]
# The JSON scalars a group key or a `hashable` value is made of.
SCALARS = (str, int, float, bool)
NUMBERS = (int, float)


def field(event: Event, path: Sequence[str]) -> Any:
    """The value at `path`, or None when any step of it is missing or not an object."""
    value: Any = event.get(path[0])
    for part in path[1:]:
        value = value.get(part) if value.__class__ is dict else None
    return value


def is_number(value: Any) -> bool:
    return value.__class__ in NUMBERS


def json_type(value: object) -> str:
    """The JSON type of a decoded value: booleans are not numbers."""
    cls = value.__class__
    if cls is bool:
        return "b"
    if cls is int or cls is float:
        return "n"
    if cls is str:
        return "s"
    return "o"


def typed_in(value: Any, options: Iterable[Any]) -> bool:
    """Membership with JSON typing, for `in` arguments of mixed types."""
    try:
        return (json_type(value), value) in frozenset((json_type(v), v) for v in options)
    except TypeError:  # an unhashable value (a list, an object) is no member
        return False


def typed_contains(value: Any, item: Any) -> bool:
    """`contains` for a non-string argument: list membership with JSON typing."""
    if value.__class__ is not list:
        return False
    return any(json_type(x) == json_type(item) and x == item for x in value)


def in_networks(text: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:  # not an address: no match, no error
        return False
    return any(address in net for net in networks)


def equals(value: Any, arg: Any) -> bool:
    if arg is True or arg is False:
        return value is arg
    if arg.__class__ is str:
        return bool(value == arg)
    return bool(value == arg and value.__class__ is not bool)


def is_in(value: Any, args: Sequence[Any]) -> bool:
    if all(a.__class__ is str for a in args):
        return value.__class__ is str and value in frozenset(args)
    if all(is_number(a) for a in args):
        return is_number(value) and value in frozenset(args)
    return typed_in(value, args)


def test(op: str, arg: Any, value: Any) -> bool:
    """One condition on the value at its path (`regex` and `cidr` take their compiled form)."""
    if op == "eq":
        return equals(value, arg)
    if op == "ne":
        return not equals(value, arg)
    if op == "in":
        return is_in(value, arg)
    if op == "not_in":
        return not is_in(value, arg)
    if op in ("gt", "gte", "lt", "lte"):
        if not is_number(value):
            return False
        if op == "gt":
            return bool(value > arg)
        if op == "gte":
            return bool(value >= arg)
        if op == "lt":
            return bool(value < arg)
        return bool(value <= arg)
    if op == "contains":
        if arg.__class__ is str:
            return value.__class__ in (str, list) and arg in value
        return typed_contains(value, arg)
    if op == "startswith":
        return value.__class__ is str and value.startswith(arg)
    if op == "endswith":
        return value.__class__ is str and value.endswith(arg)
    if op == "regex":
        return value.__class__ is str and arg.search(value)
    if op == "cidr":
        return value.__class__ is str and in_networks(value, arg)
    if op == "exists":
        return (value is not None) is bool(arg)
    raise ValueError(f"unknown operator {op}")


def compile_predicate(node: Filter) -> Predicate:
    """One filter as `f(event) -> bool` (patterns and networks read once)."""
    if isinstance(node, Cond):
        op, path, arg = node.op, node.path, node.arg
        if op == "regex":
            arg = compile_pattern(arg)
        elif op == "cidr":
            arg = tuple(ipaddress.ip_network(n, strict=False) for n in arg)
        return lambda event: test(op, arg, field(event, path))
    if isinstance(node, AllOf):
        every = [compile_predicate(x) for x in node.items]
        return lambda event: all(p(event) for p in every)
    if isinstance(node, AnyOf):
        some = [compile_predicate(x) for x in node.items]
        return lambda event: any(p(event) for p in some)
    assert isinstance(node, Not)
    inner = compile_predicate(node.item)
    return lambda event: not inner(event)


@dataclass(frozen=True, slots=True)
class SelectSpec:
    """What a rule selects: events passing `where`, with every `group_by` field a scalar, and
    a usable value for the detector (`value_mode`): a number, a scalar, the truth of one
    filter (ratio numerator) or a non-zero bit mask of step filters (sequence)."""

    where: Filter
    group_by: tuple[tuple[str, ...], ...]
    value_mode: ValueMode = "none"
    value_field: tuple[str, ...] | None = None
    value_filters: tuple[Filter, ...] = ()


# Per rule: the indexes of the events it selected, their group keys and (unless its value
# mode is "none") their values.
Selection = tuple[list[int], list[Any], list[Any]]


class RuleSelector:
    """One rule's selection from a batch."""

    def __init__(self, spec: SelectSpec) -> None:
        self.spec = spec
        self.where = compile_predicate(spec.where)
        self.value_filters = [compile_predicate(f) for f in spec.value_filters]

    def group_key(self, event: Event) -> tuple[bool, Any]:
        """(whether every group field is a scalar, the key): one field's key form alone,
        several as a tuple of them, none as ()."""
        values = [field(event, path) for path in self.spec.group_by]
        if not all(v.__class__ in SCALARS for v in values):
            return False, None
        keys = tuple(key_of(v) for v in values)
        return True, keys[0] if len(keys) == 1 else keys

    def value(self, event: Event) -> tuple[bool, Any]:
        """(whether the event has a usable value, the value)."""
        mode = self.spec.value_mode
        if mode in ("number", "hashable"):
            assert self.spec.value_field is not None
            value = field(event, self.spec.value_field)
            if mode == "number":
                return is_number(value), value
            return value.__class__ in SCALARS, key_of(value)
        if mode == "filter":
            return True, self.value_filters[0](event)
        if mode == "mask":
            mask = sum(1 << n for n, f in enumerate(self.value_filters) if f(event))
            return mask != 0, mask
        return True, None

    def __call__(self, events: Sequence[Event]) -> Selection:
        idxs: list[int] = []
        keys: list[Any] = []
        vals: list[Any] = []
        for i, event in enumerate(events):
            if not self.where(event):
                continue
            grouped, key = self.group_key(event)
            usable, value = self.value(event)
            if grouped and usable:
                idxs.append(i)
                keys.append(key)
                if self.spec.value_mode != "none":
                    vals.append(value)
        return idxs, keys, vals


class Selector:
    """A rule set's selection from a batch: each rule's, in rule order."""

    def __init__(self, specs: Sequence[SelectSpec]) -> None:
        self.rules = [RuleSelector(spec) for spec in specs]

    def __call__(self, events: Sequence[Event]) -> list[Selection]:
        return [rule(events) for rule in self.rules]
