"""Generated input for running the Python reference engine and the compiled core side by side:
record values (events of every field type, malformed records, late and out-of-order times),
cut into random batches, with idle advances of the stream clock between them, restarts from
saved state and, with `with_reloads`, reloads of the rule set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson
from hypothesis import strategies as st

from signalfire.rules.model import Rule

ORGS = ["o1", "o2", "o3"]
ACCOUNTS = ["a1", "a2", "a3", "a4", "a5"]
IPS = ["10.0.0.1", "10.0.0.2", "192.0.2.7", "2001:db8::1", "not-an-ip", "010.0.0.1"]
TYPES = ["request", "request", "request", "signup", "key_created", "login"]

# Values of an undeclared field: every JSON type, numbers that compare equal across types.
LOOSE = st.sampled_from([1, 1.0, 2, 2.5, True, False, "1", "x", None, [1], {"a": 1}])

MALFORMED = [
    b"{",
    b"[]",
    b"42",
    b'{"event_id": "e", "ts": 1}',
    b'{"event_id": "e", "org_id": "o1", "ts": "yesterday"}',
    b'{"event_id": "e", "org_id": "o1", "ts": 1, "status": "500"}',
    b'{"event_id": "e", "org_id": "o1", "ts": 1, "categories": [1]}',
    b'{"event_id": "", "org_id": "o1", "ts": 1}',
]


@dataclass(frozen=True)
class Batch:
    records: list[bytes]


@dataclass(frozen=True)
class Advance:
    now: int


@dataclass(frozen=True)
class Restart:
    """The engine is saved and a new one takes over the saved state."""


@dataclass(frozen=True)
class Reload:
    """The engine switches to another rule set, made of the script's rules: per slot (the id
    of the rule at that index), the rule whose definition it takes and whether that is a new
    version. A slot that keeps its own rule unrenewed keeps its state; one that takes another
    rule's definition (a changed rule) or a new version starts afresh; slots left out are
    dropped. The same definition under the same id has the same version in every reload."""

    picks: tuple[tuple[int, int, bool], ...]
    n: int

    def rules(self, rules: Sequence[Rule]) -> list[Rule]:
        out = []
        for slot, definition, renewed in self.picks:
            rule = rules[definition]
            if definition == slot and not renewed:
                out.append(rule)
                continue
            version = f"{rule.version}@{rules[slot].id}" + (f"#{self.n}" if renewed else "")
            out.append(replace(rule, id=rules[slot].id, version=version))
        return out


Step = Batch | Advance | Restart | Reload


@st.composite
def event(draw: st.DrawFn, n: int, t: int) -> dict[str, object]:
    e: dict[str, object] = {
        "event_id": f"e{n}",
        "org_id": draw(st.sampled_from(ORGS)),
        "event_type": draw(st.sampled_from(TYPES)),
    }
    # ts as epoch ms mostly, sometimes as a float or an ISO-8601 string
    form = draw(st.sampled_from(["int"] * 8 + ["float", "iso"]))
    if form == "int":
        e["ts"] = t
    elif form == "float":
        e["ts"] = t + 0.5
    else:
        e["ts"] = _iso(t)
    if draw(st.booleans()):
        e["account_id"] = draw(st.sampled_from(ACCOUNTS))
    if draw(st.booleans()):
        e["ip"] = draw(st.sampled_from(IPS))
    if draw(st.booleans()):
        e["status"] = draw(st.sampled_from([200, 200, 403, 429, 500]))
    if draw(st.booleans()):
        e["prompt_tokens"] = draw(st.integers(0, 5000))
    if draw(st.booleans()):
        e["flagged"] = draw(st.booleans())
    if draw(st.booleans()):
        e["categories"] = draw(st.lists(st.sampled_from(["spam", "abuse", "csam"]), max_size=2))
    if draw(st.booleans()):
        e["tokens"] = draw(st.one_of(st.integers(-5, 50), st.floats(0, 50), LOOSE))
    if draw(st.booleans()):
        e["attrs"] = {
            "plan": draw(st.sampled_from(["free", "pro", 1, True])),
            "n": draw(st.one_of(st.integers(0, 9), st.floats(0, 9))),
        }
    if draw(st.booleans()):
        e["loose"] = draw(LOOSE)
    return e


def _iso(t: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t / 1000, UTC).isoformat(timespec="milliseconds")


@st.composite
def scripts(draw: st.DrawFn, max_events: int = 150, spread_ms: int = 8_000) -> list[Step]:
    """Records in mostly increasing time (some late beyond any lateness), in random batches,
    with idle advances and malformed records among them."""
    n = draw(st.integers(1, max_events))
    t = draw(st.integers(0, 3_000_000))
    steps: list[Step] = []
    batch: list[bytes] = []
    for i in range(n):
        t += draw(st.integers(0, spread_ms))
        jitter = draw(st.sampled_from([0] * 8 + [-1_000, -20_000, -200_000]))
        if draw(st.integers(0, 30)) == 0:
            batch.append(draw(st.sampled_from(MALFORMED)))
        else:
            batch.append(orjson.dumps(draw(event(i, max(0, t + jitter)))))
        cut = draw(st.integers(0, 9))
        if cut == 0:
            steps.append(Batch(batch))
            batch = []
        elif cut == 1:
            steps.append(Batch(batch))
            batch = []
            t += draw(st.integers(0, 10 * spread_ms))
            steps.append(Advance(t))
        elif cut == 2:
            steps.append(Batch(batch))
            batch = []
            steps.append(Restart())
    steps.append(Batch(batch))
    return steps


@st.composite
def reloads(draw: st.DrawFn, rules: int, n: int) -> Reload:
    """A rule set of `rules` slots: most kept, some dropped, changed or renewed, in any order."""
    slots = draw(st.permutations(range(rules)))
    kept = slots[: draw(st.integers(0, rules))] if draw(st.integers(0, 3)) == 0 else slots
    picks = []
    for slot in kept:
        change = draw(st.integers(0, 9))
        definition = draw(st.integers(0, rules - 1)) if change == 0 else slot
        picks.append((slot, definition, change == 1))
    return Reload(tuple(picks), n)


@st.composite
def with_reloads(
    draw: st.DrawFn, steps: st.SearchStrategy[list[Step]], rules: int, max_reloads: int = 4
) -> list[Step]:
    """A script from `steps` with reloads of a set of `rules` rules between its steps (the
    last reload leaves the rule set the script ends with)."""
    script = list(draw(steps))
    for n in range(draw(st.integers(1, max_reloads))):
        at = draw(st.integers(0, len(script)))
        script.insert(at, draw(reloads(rules, n)))
    return script
