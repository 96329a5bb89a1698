"""Filter trees and events for running `where:` filters side by side: every operator of
`signalfire.rules.where.OPERATORS` with arguments of every type the rule checker allows, nested
paths, `all`/`any`/`not`; events whose fields hold values those arguments compare with (numbers
equal across int and float, big integers, IP addresses in every spelling, lists, objects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from signalfire.rules.where import OPERATORS

INF = float("inf")
# Integers within [-2**63, 2**64), as the rule loader takes them and orjson reads them.
NUMBERS: list[Any] = [
    0, 1, -1, 2, 3, 300, 1.0, 2.0, -0.0, 0.5, 1.5, -2.5, 1e-300, 1e300, float(2**200),
    2**53, 2**53 + 1, float(2**53), 2**63 - 1, 2**63, float(2**63), 2**64 - 1, float(2**64),
    1e19, -(2**63), float(-(2**63)),
]  # fmt: skip
# Only filter arguments can be non-finite (YAML's .inf and .nan).
ARG_NUMBERS: list[Any] = [*NUMBERS, INF, -INF, float("nan")]
IPS = [
    "10.0.0.1", "10.1.2.3", "10.255.255.255", "11.0.0.1", "192.168.1.77", "0.0.0.0",
    "255.255.255.255", "010.0.0.1", "10.0.0.01", "10.0.0.256", "10.0.1", "1.2.3.4.5", " 10.0.0.1",
    "10.0.0.1 ", "10.0.0.1\n", "0x0a.0.0.1", "\u0661\u0660.0.0.1", "10.0.0.1/32", "2001:db8::1",
    "2001:DB8::FFFF", "2001:db9::1", "::1", "::", "::ffff:10.0.0.1", "::ffff:010.0.0.1",
    "::10.0.0.1", "fe80::1%eth0", "fe80::1%", "fe80::1%a%b", "fe80::1%a/b", "fe80::1%25",
    "fe80::1%%", "10.0.0.1%eth0", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1:2:3:4::5:6:7:8",
    "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "00001::1", "1:2:3:4:5:6:7:8%x", ":1::", "1::",
    "::ffff:1.2.3.4%x",
]  # fmt: skip
NETWORKS = [
    "10.0.0.0/8", "10.0.0.1/8", "10.0.0.1", "10.0.0.0/255.0.0.0", "10.0.0.0/0.255.255.255",
    "10.0.0.0/255.255.0.0", "10.0.0.0/0.0.255.255", "0.0.0.0/0", "0.0.0.0/0.0.0.0",
    "10.0.0.0/255.255.255.255", "10.0.0.0/08", "10.0.0.0/0008", "192.168.1.0/24", "::/0",
    "2001:db8::/32", "2001:db8::1/128", "2001:DB8::/ffff::", "fe80::%eth0/64", "fe80::1%eth0",
    "fe80::%a%b/64", "::ffff:10.0.0.0/104", "::ffff:0:0/96", "::1", "010.0.0.0/8",
    "10.0.0.0/33", "10.0.0.0/255.0.255.0", "10.0.0.0/255.255.0.00", "10.0.0.0/ 8",
    "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/-1", "::/129",
]  # fmt: skip
STRINGS = [
    "", "a", "b", "ab", "abc", "bca", "A", "é", "ß", "1", "1.0", "true", "free", "pro", "x y",
    "/v1/chat/completions", "Mozilla HeadlessChrome", *IPS[:8],
]  # fmt: skip
PATTERNS = [
    "^10\\.", "a|b", "(?i)ABC", "^$", "é+", "\\d{3}", ".*", "^x$", "\\bfree\\b", "^\\s*$",
    "(?i)SS", "chat/(completions|edits)$", "[", "(a)\\1", "a{2,1}", "\\p{Greek}", "^[a-c]+$",
]  # fmt: skip

SCALAR_ARGS = st.one_of(
    st.sampled_from(ARG_NUMBERS), st.sampled_from(STRINGS), st.booleans(), st.integers(-5, 5)
)
SCALAR_VALUES = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(STRINGS), st.booleans(), st.integers(-5, 400)
)
PATHS = [
    "x", "x", "x", "y", "y", "tags", "tags", "attrs.n", "attrs.n", "attrs.plan", "ip", "status",
    "categories", "attrs", "attrs.deep.v", "x.a", "tags.a",
]  # fmt: skip


# Addresses inside some of NETWORKS.
INSIDE = [
    "10.0.0.1", "10.1.2.3", "10.255.255.255", "192.168.1.77", "2001:db8::1", "2001:DB8::FFFF",
    "fe80::1%eth0", "fe80::1", "::ffff:10.0.0.1", "::1", "0.0.0.0",
]  # fmt: skip


# Fields most likely to hold what an operator looks at (strings, lists, addresses).
OP_PATHS = {
    "cidr": ["ip", "ip", "ip", "x"],
    "contains": ["categories", "tags", "tags", "x", "ip"],
    "regex": ["ip", "x", "attrs.plan", "categories"],
    "startswith": ["ip", "x", "attrs.plan", "y"],
    "endswith": ["ip", "x", "attrs.plan", "y"],
}


@st.composite
def ip_texts(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 2))
    if kind < 2:
        return draw(st.sampled_from(INSIDE if kind == 0 else IPS))
    ip = str(draw(st.ip_addresses()))
    if ":" in ip and draw(st.integers(0, 4)) == 0:
        ip += "%" + draw(st.sampled_from(["eth0", "1", "a%b", ""]))
    return ip


@st.composite
def _affix(draw: st.DrawFn, strings: st.SearchStrategy[str], start: bool) -> str:
    """A prefix or suffix of a string the events hold, or any string."""
    text = draw(strings)
    n = draw(st.integers(0, len(text)))
    if draw(st.integers(0, 3)) == 0:
        return draw(st.text(max_size=3))
    return text[:n] if start else text[n:]


def _one_or_list(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


@dataclass(frozen=True)
class Vocabulary:
    """What one example's filters and events draw from, so that conditions often hold."""

    scalars: list[Any]
    strings: list[str]
    ips: list[str]

    def shared(self) -> st.SearchStrategy[Any]:
        return st.sampled_from(self.scalars)

    def args(self) -> dict[str, st.SearchStrategy[Any]]:
        scalar = st.one_of(self.shared(), self.shared(), SCALAR_ARGS)
        numbers = [v for v in self.scalars if v.__class__ in (int, float)]
        number = st.one_of(st.sampled_from(ARG_NUMBERS), st.integers(-5, 400))
        if numbers:
            number = st.one_of(st.sampled_from(numbers), number)
        strings = st.sampled_from(self.strings + self.ips)
        return {
            "eq": scalar,
            "ne": scalar,
            "in": st.lists(scalar, min_size=1, max_size=4),
            "not_in": st.lists(scalar, min_size=1, max_size=4),
            "gt": number,
            "gte": number,
            "lt": number,
            "lte": number,
            "contains": st.one_of(scalar, _affix(strings, start=True)),
            "startswith": _one_or_list(_affix(strings, start=True)),
            "endswith": _one_or_list(_affix(strings, start=False)),
            "regex": st.sampled_from(PATTERNS),
            "cidr": _one_or_list(st.sampled_from(NETWORKS)),
            "exists": st.booleans(),
        }

    def values(self) -> st.SearchStrategy[Any]:
        """A field's value: mostly one of the vocabulary's, else a list, an object or null."""
        shared = st.one_of(self.shared(), self.shared(), st.sampled_from(self.ips))
        return st.one_of(
            shared,
            shared,
            shared,
            shared,
            SCALAR_VALUES,
            st.lists(st.one_of(shared, st.lists(shared, max_size=2)), max_size=4),
            st.fixed_dictionaries({"a": shared, "n": shared}),
            st.none(),
        )


@st.composite
def vocabularies(draw: st.DrawFn) -> Vocabulary:
    return Vocabulary(
        scalars=draw(
            st.lists(st.one_of(SCALAR_VALUES, st.sampled_from(IPS)), min_size=2, max_size=4)
        ),
        strings=draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3)),
        ips=draw(st.lists(ip_texts(), min_size=1, max_size=4)),
    )


@st.composite
def conditions(draw: st.DrawFn, vocabulary: Vocabulary) -> dict[str, Any]:
    """Operators on one field (or the `field: value` shorthand for `eq`)."""
    args = vocabulary.args()
    if draw(st.integers(0, 5)) == 0:
        return {draw(st.sampled_from(PATHS)): draw(args["eq"])}
    ops = draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True))
    paths = PATHS
    for op in ops:
        paths = OP_PATHS.get(op, paths)
    return {draw(st.sampled_from(paths)): {op: draw(args[op]) for op in ops}}


def filter_trees(vocabulary: Vocabulary, max_leaves: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    """A `where:` mapping: conditions beside `all`, `any` and `not` at any depth."""

    def combine(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            inner.map(lambda x: {"not": x}),
            st.lists(inner, min_size=2, max_size=3).map(_merged),
        )

    return st.recursive(conditions(vocabulary), combine, max_leaves=max_leaves)


def _merged(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Several entries in one mapping (all must hold), each key once."""
    out: dict[str, Any] = {}
    for item in items:
        for k, v in item.items():
            out.setdefault(k, v)
    return out


@st.composite
def events(draw: st.DrawFn, n: int, vocabulary: Vocabulary) -> dict[str, Any]:
    """An event (valid for the contract) with the filters' fields holding any JSON value."""
    values = vocabulary.values()
    e: dict[str, Any] = {"event_id": f"e{n}", "org_id": "o", "ts": 1000}
    for name in ["x", "y"]:
        if draw(st.integers(0, 3)):
            e[name] = draw(values)
    if draw(st.integers(0, 3)):
        e["tags"] = draw(st.one_of(st.lists(vocabulary.shared(), max_size=3), values))
    if draw(st.integers(0, 3)):
        e["ip"] = draw(st.sampled_from(vocabulary.ips))
    if draw(st.booleans()):
        e["status"] = draw(st.sampled_from([200, 404, 429, 500, 0, 2**63, 2**64 - 1]))
    if draw(st.booleans()):
        pool = [v for v in vocabulary.scalars if isinstance(v, str)] + vocabulary.strings
        e["categories"] = draw(st.lists(st.sampled_from(pool), max_size=3))
    if draw(st.integers(0, 3)):
        attrs: dict[str, Any] = {}
        for name in ["n", "plan"]:
            if draw(st.integers(0, 3)):
                attrs[name] = draw(values)
        if draw(st.booleans()):
            attrs["deep"] = {"v": draw(values)} if draw(st.booleans()) else 1
        e["attrs"] = attrs
    return e


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Filter trees and events drawn from one vocabulary."""
    vocabulary = draw(vocabularies())
    trees = draw(st.lists(filter_trees(vocabulary), min_size=1, max_size=4))
    evs = [draw(events(n, vocabulary)) for n in range(draw(st.integers(1, 25)))]
    return trees, evs
