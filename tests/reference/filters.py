"""Code generation from a rule's validated filter tree.

Generated source contains only identifiers and operators produced here: every field name,
literal, regex and network from the rule file is bound as a constant in the function's
namespace (`_c0`, `_c1`, ...), so no rule text is ever evaluated as code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from signalfire.rules.model import AllOf, AnyOf, Cond, Filter, Not
from signalfire.rules.regex import compile_pattern
from tests.reference.events import Event
from tests.reference.jsonkey import BOOL_KEYS, whole
from tests.reference.matchers import (
    CachedSearch,
    CidrMatcher,
    typed_contains,
    typed_in,
    typed_set,
)

ValueMode = Literal["none", "number", "hashable", "filter", "mask"]
HASHABLE = frozenset({str, int, float, bool})


class _Gen:
    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self.namespace: dict[str, object] = {"_H": HASHABLE, "_B": BOOL_KEYS, "_W": whole}
        self.temps = 0
        # With `fields`, top-level fields are read once per event into locals (fused mode);
        # `shared` conditions and `flags` (field is a scalar) are computed once per event too,
        # and `keys` are group-key tuples built at most once per event.
        self.fields = fields
        self.shared: dict[Cond, str] = {}
        self.flags: dict[str, str] = {}
        self.keys: dict[tuple[tuple[str, ...], ...], str] = {}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def field(self, path: Sequence[str]) -> str:
        if self.fields is not None:
            expr = self.fields.setdefault(path[0], f"_f{len(self.fields)}")
        else:
            expr = f"e.get({self.const(path[0])})"
        for part in path[1:]:
            t = self.temp()
            expr = f"({t}.get({self.const(part)}) if ({t} := {expr}).__class__ is dict else None)"
        return expr

    def filt(self, node: Filter) -> str:
        if isinstance(node, Cond):
            return self.cond(node)
        if isinstance(node, AllOf):
            return " and ".join(f"({self.filt(x)})" for x in _cheap_first(node.items)) or "True"
        if isinstance(node, AnyOf):
            return " or ".join(f"({self.filt(x)})" for x in _cheap_first(node.items)) or "False"
        return f"not ({self.filt(node.item)})"

    def cond(self, c: Cond) -> str:
        name = self.shared.get(c)
        if name is not None:
            return name
        return self.cond_expr(c)

    def cond_expr(self, c: Cond) -> str:
        v = self.field(c.path)
        x = self.temp()
        op, arg = c.op, c.arg
        if op in ("eq", "ne"):
            expr = self._eq(v, x, arg)
            return expr if op == "eq" else f"not ({expr})"
        if op in ("in", "not_in"):
            if all(a.__class__ is str for a in arg):
                expr = f"({x} := {v}).__class__ is str and {x} in {self.const(frozenset(arg))}"
            elif all(a.__class__ in (int, float) for a in arg):
                expr = (
                    f"(({x} := {v}).__class__ is int or {x}.__class__ is float)"
                    f" and {x} in {self.const(frozenset(arg))}"
                )
            else:
                expr = f"{self.const(typed_in)}({v}, {self.const(typed_set(arg))})"
            return expr if op == "in" else f"not ({expr})"
        if op in ("gt", "gte", "lt", "lte"):
            sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return (
                f"(({x} := {v}).__class__ is int or {x}.__class__ is float)"
                f" and {x} {sym} {self.const(arg)}"
            )
        if op == "contains":
            if arg.__class__ is str:
                return (
                    f"(({x} := {v}).__class__ is str or {x}.__class__ is list)"
                    f" and {self.const(arg)} in {x}"
                )
            return f"{self.const(typed_contains)}({v}, {self.const(arg)})"
        if op in ("startswith", "endswith"):
            return f"({x} := {v}).__class__ is str and {x}.{op}({self.const(arg)})"
        if op == "regex":
            search = self.const(CachedSearch(compile_pattern(arg)))
            return f"({x} := {v}).__class__ is str and {search}({x})"
        if op == "cidr":
            return f"({x} := {v}).__class__ is str and {self.const(CidrMatcher(arg))}({x})"
        if op == "exists":
            return f"{v} is not None" if arg else f"{v} is None"
        raise ValueError(f"unknown operator {op}")

    def _eq(self, v: str, x: str, arg: Any) -> str:
        if arg is True or arg is False:
            return f"{v} is {arg}"
        if arg.__class__ is str:
            return f"{v} == {self.const(arg)}"
        return f"({x} := {v}) == {self.const(arg)} and {x}.__class__ is not bool"


_OP_COST = {"regex": 4, "cidr": 3, "contains": 2, "startswith": 2, "endswith": 2}


def _cost(node: Filter) -> int:
    if isinstance(node, Cond):
        return _OP_COST.get(node.op, 1) + len(node.path) - 1
    if isinstance(node, Not):
        return _cost(node.item)
    return sum(_cost(x) for x in node.items)


def _cheap_first(items: Sequence[Filter]) -> list[Filter]:
    """Conditions have no side effects, so testing cheap ones first changes only the cost."""
    return sorted(items, key=_cost)


def _build(gen: _Gen, name: str, source: str) -> object:
    # Constants become keyword defaults: locals are read faster than globals in the hot loop.
    head, _, body = source.partition("\n")
    consts = ", ".join(f"{c}={c}" for c in gen.namespace if c.startswith("_") and c != name)
    head = head.replace("):", f", *, {consts}):") if consts else head
    code = compile(f"{head}\n{body}", f"<signalfire {name}>", "exec")
    exec(code, gen.namespace)
    return gen.namespace[name]


def compile_predicate(node: Filter) -> Callable[[Event], bool]:
    """One filter as `f(event) -> bool` (for tests, steps and small uses)."""
    gen = _Gen()
    source = f"def _pred(e):\n    return bool({gen.filt(node)})\n"
    return cast(Callable[[Event], bool], _build(gen, "_pred", source))


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


def _block(gen: _Gen, spec: SelectSpec) -> tuple[str, str, str]:
    """(condition, key expression, value expression) of one rule, in `gen`'s namespace."""
    conds = [f"({gen.filt(spec.where)})"]
    keys = []
    for path in spec.group_by:
        if gen.fields is not None and len(path) == 1:
            local = gen.field(path)
            flag = gen.flags.setdefault(local, f"_h{len(gen.flags)}")
            conds.insert(0, flag)
            keys.append(_json_key(local))
            continue
        g = gen.temp()
        conds.append(f"({g} := {gen.field(path)}).__class__ in _H")
        keys.append(_json_key(g))
    key_expr = keys[0] if len(keys) == 1 else f"({', '.join(keys)}{',' if keys else ''})"
    if gen.fields is not None and len(keys) > 1:
        k = gen.keys.setdefault(spec.group_by, f"_k{len(gen.keys)}")
        key_expr = f"({k} if {k} is not None else ({k} := {key_expr}))"
    value_expr = "None"
    if spec.value_mode in ("number", "hashable"):
        assert spec.value_field is not None
        value_expr = gen.temp()
        field = gen.field(spec.value_field)
        if spec.value_mode == "number":
            conds.append(
                f"(({value_expr} := {field}).__class__ is int or {value_expr}.__class__ is float)"
            )
        else:
            conds.append(f"({value_expr} := {field}).__class__ in _H")
            value_expr = _json_key(value_expr)
    elif spec.value_mode == "filter":
        value_expr = f"bool({gen.filt(spec.value_filters[0])})"
    elif spec.value_mode == "mask":
        value_expr = gen.temp()
        bits = " | ".join(
            f"({1 << n} if ({gen.filt(f)}) else 0)" for n, f in enumerate(spec.value_filters)
        )
        conds.append(f"({value_expr} := {bits})")
    return " and ".join(conds), key_expr, value_expr


def _json_key(name: str) -> str:
    """A scalar as a key: booleans apart from numbers, whole floats as ints (see `jsonkey`)."""
    return (
        f"(_B[{name}] if {name}.__class__ is bool"
        f" else _W({name}) if {name}.__class__ is float else {name})"
    )


Selection = tuple[list[int], list[Any], list[Any]]
FusedSelector = Callable[[Sequence[Event]], list[Selection]]


def _conds(node: Filter) -> list[Cond]:
    if isinstance(node, Cond):
        return [node]
    if isinstance(node, Not):
        return _conds(node.item)
    return [c for item in node.items for c in _conds(item)]


def _spec_conds(spec: SelectSpec) -> set[Cond]:
    found = set(_conds(spec.where))
    for f in spec.value_filters:
        found.update(_conds(f))
    return found


def compile_fused(specs: Sequence[SelectSpec]) -> FusedSelector:
    """One pass over a batch for a whole rule set: each top-level field is read once per
    event into a local, conditions shared by several rules are tested once, and every rule's
    condition is tested on those locals."""
    if not specs:
        # e.g. the input partitions when every rule groups by a repartitioned field
        return lambda evs: []
    gen = _Gen(fields={})
    uses: dict[Cond, int] = {}
    for spec in specs:
        for c in _spec_conds(spec):
            uses[c] = uses.get(c, 0) + 1
    shared = {c: f"_p{n}" for n, c in enumerate(c for c, k in uses.items() if k > 1)}
    shared_exprs = {name: gen.cond_expr(c) for c, name in shared.items()}
    gen.shared = shared
    blocks = [_block(gen, spec) for spec in specs]
    lines = ["def _fused(evs):"]
    for n in range(len(specs)):
        lines.append(f"    o{n}i = []; o{n}k = []; o{n}v = []")
        lines.append(f"    a{n}i = o{n}i.append; a{n}k = o{n}k.append; a{n}v = o{n}v.append")
    lines.append("    for i, e in enumerate(evs):")
    assert gen.fields is not None
    lines.extend(
        f"        {local} = e.get({gen.const(name)})" for name, local in gen.fields.items()
    )
    lines.extend(f"        {flag} = {local}.__class__ in _H" for local, flag in gen.flags.items())
    lines.extend(f"        {k} = None" for k in gen.keys.values())
    lines.extend(f"        {name} = {expr}" for name, expr in shared_exprs.items())
    for n, (spec, (cond, key_expr, value_expr)) in enumerate(zip(specs, blocks, strict=True)):
        lines.append(f"        if {cond}:")
        value = "" if spec.value_mode == "none" else f"; a{n}v({value_expr})"
        lines.append(f"            a{n}i(i); a{n}k({key_expr}){value}")
    outs = ", ".join(f"(o{n}i, o{n}k, o{n}v)" for n in range(len(specs)))
    lines.append(f"    return [{outs}]")
    return cast(FusedSelector, _build(gen, "_fused", "\n".join(lines) + "\n"))
