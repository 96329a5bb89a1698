"""The would-have-paged diff of two backtests: pages matched by episode, not by timestamp.

An episode is what a pager shows for one group of one rule: a trigger and everything until its
resolve (or the end of the input when it never resolves). A trigger while the episode is still
open has the same dedup key, so the pager folds it into that episode. Rules that never resolve
(occurrence rules without `resolve_after`) have no end to wait for: each trigger is an episode
that spans its throttle, the time in which the group could not page again.

Two episodes of the same rule id and dedup key (the same group) whose spans overlap are the
same episode: `unchanged` when they begin at the same event time, `moved` otherwise. What is
left over is `added` (only with the new rules) or `removed` (only with the old ones).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerting.pager import PagerMessage
from signalfire.cli.backtest import BacktestResult
from signalfire.rules.model import Rule

# The end of an episode still open when the input ends: it overlaps anything later.
OPEN = 2**63
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

EpisodeKey = tuple[str, str]  # (rule id, dedup key)


@dataclass(frozen=True, slots=True)
class Episode:
    rule_id: str
    dedup_key: str
    start: int  # event time of the trigger that opened it, epoch ms
    end: int  # exclusive: the resolve's time, start + throttle, or OPEN
    page: PagerMessage  # the trigger message that opened it


@dataclass(frozen=True, slots=True)
class Moved:
    old: Episode
    new: Episode

    @property
    def shift_ms(self) -> int:
        return self.new.start - self.old.start


@dataclass(slots=True)
class PageDiff:
    added: list[Episode] = field(default_factory=list)
    removed: list[Episode] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    unchanged: int = 0


def event_ms(timestamp: str) -> int:
    """Epoch milliseconds of a pager message's ISO-8601 timestamp."""
    return (datetime.fromisoformat(timestamp) - _EPOCH) // _MS


def episodes(
    messages: Iterable[PagerMessage], rules: Mapping[str, Rule]
) -> dict[EpisodeKey, list[Episode]]:
    """Each (rule, group)'s episodes in time order, from its messages in emission order."""
    by_key: dict[EpisodeKey, list[PagerMessage]] = defaultdict(list)
    for m in messages:
        by_key[(m.payload.component, m.dedup_key)].append(m)
    out: dict[EpisodeKey, list[Episode]] = {}
    for (rule_id, key), msgs in by_key.items():
        rule = rules.get(rule_id)
        found: list[Episode] = []
        opened: tuple[int, PagerMessage] | None = None
        for m in msgs:
            at = event_ms(m.payload.timestamp)
            if m.event_action == "trigger":
                if rule is not None and not resolves(rule):
                    # Zero throttle: the trigger's own millisecond.
                    found.append(Episode(rule_id, key, at, at + max(rule.throttle_ms, 1), m))
                elif opened is None:
                    opened = (at, m)
            elif opened is not None:
                start, page = opened
                found.append(Episode(rule_id, key, start, max(at, start + 1), page))
                opened = None
        if opened is not None:
            found.append(Episode(rule_id, key, opened[0], OPEN, opened[1]))
        out[(rule_id, key)] = sorted(found, key=lambda i: i.start)
    return out


def resolves(rule: Rule) -> bool:
    return rule.is_condition or bool(rule.resolve_after_ms)


def page_diff(old: BacktestResult, new: BacktestResult) -> PageDiff:
    """What going from the `old` rules to the `new` ones changes in what a pager shows."""
    before = episodes(old.messages, old.rules)
    after = episodes(new.messages, new.rules)
    diff = PageDiff()
    for key in sorted(before.keys() | after.keys()):
        _match(before.get(key, []), after.get(key, []), diff)
    return diff


def _match(old: list[Episode], new: list[Episode], diff: PageDiff) -> None:
    """Pair overlapping episodes in time order. The episodes of one side never overlap each
    other, so the earliest-first pairing is a largest one: a split leaves its later part added,
    a merge its later part removed."""
    i = j = 0
    while i < len(old) and j < len(new):
        a, b = old[i], new[j]
        if a.start < b.end and b.start < a.end:
            if a.start == b.start:
                diff.unchanged += 1
            else:
                diff.moved.append(Moved(a, b))
            i += 1
            j += 1
        elif a.end <= b.start:
            diff.removed.append(a)
            i += 1
        else:
            diff.added.append(b)
            j += 1
    diff.removed.extend(old[i:])
    diff.added.extend(new[j:])
