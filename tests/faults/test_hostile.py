"""Hostile input without a broker: catastrophic regexes, key explosion, oversized and
over-deep records. (The 10 MB record through a real worker is in test_hostile_kafka.py.)"""

from __future__ import annotations

import gc
import itertools
import pickle
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.rules import RuleSetError, load_rules, parse_rule_text
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.processor import Processor
from streams.records import usable_values
from tests.reference.wire import read_any
from tests.unit.streams.memory_kafka import Record

MB = 1 << 20


def one_rule(text: str) -> Rule:
    rules, problems = parse_rule_text(text, "hostile.yaml")
    assert not problems, problems
    (rule,) = rules
    return rule


# -- catastrophic regex --------------------------------------------------------------------------

REGEX_RULE = """\
id: evil_regex
title: Catastrophic for a backtracking engine
severity: info
where:
  attrs.user_agent: {regex: "(a+)+$"}
group_by: [org_id]
detect:
  type: match
"""


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of `runs` timings: the least disturbed by other work on shared cores."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_catastrophic_regex_runs_in_linear_time_through_the_rule_operator():
    """`(a+)+$` against 'a'*N + 'b' is exponential for a backtracking engine; through the
    rule's regex operator (the compiled core's automaton) 8x the input costs about 8x the
    time, not 8x squared."""
    engine = CoreEngine([one_rule(REGEX_RULE)])
    made = iter(range(10**9))

    def record(k: int, agent: str) -> bytes:
        return orjson.dumps(
            {"event_id": f"e{k}", "ts": k, "org_id": "o", "attrs": {"user_agent": agent}}
        )

    def run(n: int) -> Callable[[], object]:
        def once() -> object:
            k = next(made)  # a new value each time: nothing can answer from a cache
            return engine.process([record(k, "a" * (n + k % 7) + "b")])

        return once

    hits = engine.process([record(0, "aa")]).alerts
    assert [a.action for a in hits] == ["trigger"]  # the operator is on the event's path
    n = 200_000
    small = best_of(7, run(n))
    large = best_of(7, run(8 * n))
    ratio = large / small
    # linear: ~8; quadratic would be ~64; exponential would never finish
    assert ratio < 32, f"{n} chars: {small * 1e3:.3f} ms, {8 * n}: {large * 1e3:.3f} ms"
    print(f"regex (a+)+$: {n} chars {small * 1e3:.3f} ms, {8 * n} chars {large * 1e3:.3f} ms")
    assert engine.late == 0


def test_the_same_pattern_is_exponential_for_python_re():
    """The control: the pattern really is catastrophic for a backtracking engine, so the
    linear result above comes from the engine, not from an easy input."""
    evil = re.compile(r"(a+)+$")
    small = best_of(3, lambda: evil.search("a" * 16 + "b"))
    large = best_of(3, lambda: evil.search("a" * 20 + "b"))
    assert large / small > 4  # 4 more characters: ~16x the work


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        (r"(a)\1", "backreferences are not supported"),
        ("(?=admin)", "look-around, including look-ahead and look-behind, is not supported"),
        ("(?<!x)y", "look-around, including look-ahead and look-behind, is not supported"),
        (r"(?P<n>a)(?P=n)", "invalid"),
    ],
)
def test_backreference_and_lookaround_are_refused_at_load_with_file_line(
    tmp_path: Path, pattern: str, complaint: str
):
    path = tmp_path / "evil.yaml"
    quoted = pattern.replace("'", "''")
    path.write_text(REGEX_RULE.replace('"(a+)+$"', f"'{quoted}'"))
    with pytest.raises(RuleSetError) as exc:
        load_rules([tmp_path])
    (problem,) = exc.value.problems
    assert str(problem).startswith(f"{path}:5: where.attrs.user_agent.regex: invalid regex ")
    assert complaint in problem.message


# -- key explosion ------------------------------------------------------------------------------

CAP = 10_000
HOT = tuple(f"192.0.2.{n}" for n in range(100))
CAPPED_RULE = f"""\
id: ip_burst_capped
title: Requests per IP
severity: warning
group_by: [ip]
detect:
  type: threshold
  window: 1h
  bucket: 30m
  threshold: 10
max_groups: {CAP}
"""


def cold_ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


@dataclass
class Stream:
    """Distinct cold IPs, one event each, with a hot IP every 50th event (each hot IP every
    5,000 events: less than the cap of new groups in between, so a hot group stays warm)."""

    seq: int = 0
    cold: int = 0
    hot_sent: int = 0

    def event(self, ip: str) -> dict[str, object]:
        self.seq += 1
        return {"event_id": "e", "ts": 1_000_000 + self.seq, "org_id": "o1", "ip": ip}

    def batches(self, cold_total: int, size: int = 10_000) -> Iterator[list[dict[str, object]]]:
        while self.cold < cold_total:
            batch = []
            for k in range(size):
                if k % 50 == 0:
                    batch.append(self.event(HOT[self.hot_sent % len(HOT)]))
                    self.hot_sent += 1
                else:
                    batch.append(self.event(cold_ip(self.cold)))
                    self.cold += 1
            yield batch


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_key_explosion_is_capped_evicts_coldest_first_and_memory_stays_flat():
    engine = CoreEngine([one_rule(CAPPED_RULE)])

    def feed(events: list[dict[str, object]]) -> list[Alert]:
        return engine.process([orjson.dumps(e) for e in events]).alerts

    def evicted() -> int:
        (counts,) = engine.counts()
        return counts.cap_evictions

    stream = Stream()
    # Hot IPs first, past half the threshold: warm groups move to the back on every event.
    alerts = feed([stream.event(ip) for _ in range(6) for ip in HOT])

    # What a group costs while the cap fills (in the saved state): the yardstick for
    # "proportional" below.
    before = len(engine.save())
    alerts += feed(next(stream.batches(CAP)))
    per_group = (len(engine.save()) - before) / CAP

    evictions = [evicted()]
    # Resident memory after each batch from 400k to 500k cold IPs and from 900k on. The
    # allocator keeps freed pages a moment before it gives them back, so a single reading can
    # be megabytes high: the lowest of each stretch is what the engine holds.
    rss: dict[str, list[int]] = {"early": [], "late": []}
    snapshot: dict[int, int] = {}

    def measure(stretch: str) -> None:
        # Pickled first: memory the allocator keeps after the pickle is then in every reading
        # of the stretch, not only in those after its first.
        snapshot.setdefault(stream.cold, len(pickle.dumps(engine)))
        gc.collect()
        rss[stretch].append(rss_bytes())

    for batch in stream.batches(1_000_000):
        alerts += feed(batch)
        assert engine.group_counts()["ip_burst_capped"] <= CAP
        evictions.append(evicted())
        if 400_000 <= stream.cold < 500_000 and not snapshot:
            measure("early")
        elif 400_000 <= stream.cold < 500_000:
            rss["early"].append(rss_bytes())
        elif stream.cold >= 900_000:
            rss["late"].append(rss_bytes())
    measure("late")
    distinct = stream.cold + len(HOT)
    assert stream.cold >= 1_000_000 and len(rss["early"]) >= 5 and len(rss["late"]) >= 5
    assert engine.group_counts() == {"ip_burst_capped": CAP}
    # Evictions rise batch after batch, one per group beyond the cap.
    assert all(b > a for a, b in itertools.pairwise(evictions))
    assert evicted() == distinct - CAP
    # Each hot IP crossed the threshold once and stayed tracked: no second episode.
    assert sorted(a.group[0][1] for a in alerts if a.action == "trigger") == sorted(HOT)
    # The coldest went first: what is left is every hot IP and the newest cold ones. The
    # oldest kept cold IP pages after ten more events (eleven in all); the newest evicted one
    # starts again from nothing, and ten are not enough.
    oldest_kept = cold_ip(stream.cold - (CAP - len(HOT)))
    newest_gone = cold_ip(stream.cold - (CAP - len(HOT)) - 1)
    out = feed([stream.event(oldest_kept) for _ in range(10)])
    assert [(a.action, a.group[0][1]) for a in out] == [("trigger", oldest_kept)]
    assert feed([stream.event(newest_gone) for _ in range(10)]) == []
    # Memory: flat between 400k and 1M events, where uncapped state would grow by
    # per_group * 600k; the state snapshot is the same size too.
    (early, late) = sorted(snapshot)
    growth = min(rss["late"]) - min(rss["early"])
    assert growth < 0.25 * per_group * (late - early), (growth, per_group, rss)
    assert snapshot[late] < 1.2 * snapshot[early], snapshot
    print(
        f"key explosion: {distinct} groups, cap {CAP}, {distinct - CAP} evictions, "
        f"{per_group:.0f} B/group saved, RSS {growth / MB:+.1f} MB from {early} to {late} cold "
        f"IPs, snapshot {snapshot[early]} -> {snapshot[late]} bytes"
    )


# -- oversized and over-deep records, through the worker's processor ------------------------------


def processor(max_record_bytes: int = 1_000_000) -> tuple[Processor, str]:
    config = WorkerConfig(rules="rules", max_record_bytes=max_record_bytes)
    proc = Processor(config, load_rules(["rules"]).rules, lambda: 1000.0)
    proc.partitions = 2
    proc.assign([(config.events_topic, 0)])
    return proc, config.events_topic


def event_bytes(n: int, **extra: object) -> bytes:
    fields = {
        "event_id": f"e{n}", "ts": 1_795_392_000_000 + n, "org_id": "o1", "account_id": "a1",
        "ip": "1.2.3.4",
    }  # fmt: skip
    return orjson.dumps({**fields, **extra})


def test_oversized_record_is_refused_before_any_json_parsing():
    """A 10 MB value is refused on its size whatever it holds: garbage that the parser would
    call not-JSON, and a valid event that the parser would accept, get the same reason."""
    garbage = b"[" * (10 * MB)
    valid = event_bytes(1, pad="x" * (10 * MB))
    # what parsing them would have said: the garbage refused, the event accepted
    (parsed,) = CoreEngine([]).process([garbage, valid]).dead_letters
    assert parsed.index == 0 and parsed.message.startswith("not valid JSON")
    records = [Record("events", 0, n, None, value) for n, value in enumerate((garbage, valid))]
    values, _, letters = usable_values(records, 1_000_000)
    assert values == []
    for letter, value in zip(letters, (garbage, valid), strict=True):
        assert (
            dict(letter.headers)["error"]
            == f"record too large: {len(value)} bytes > 1000000".encode()
        )
        assert letter.reason == "oversized"

    proc, topic = processor()
    records = [
        Record(topic, 0, 0, b"o1", event_bytes(0)),
        Record(topic, 0, 1, b"o1", garbage),
        Record(topic, 0, 2, b"o1", valid),
        Record(topic, 0, 3, b"o1", event_bytes(3)),
    ]
    out = proc.process((topic, 0), records)
    assert out.decoded == 2 and out.consumed == 4
    assert [d.value for d in out.dead] == [garbage, valid]
    assert all(d.value is r.value for d, r in zip(out.dead, records[1:3], strict=True))
    for dead, record in zip(out.dead, records[1:3], strict=True):
        headers = dict(dead.headers)
        assert (
            headers["error"]
            == f"record too large: {len(dead.value or b'')} bytes > 1000000".encode()
        )
        assert headers["source_offset"] == str(record.offset).encode() and dead.key == b"o1"


def test_record_size_limit_boundary():
    value = event_bytes(1)
    records = [Record("events", 0, 0, None, value)]
    assert usable_values(records, len(value))[0] == [value]
    values, _, (letter,) = usable_values(records, len(value) - 1)
    assert values == [] and dict(letter.headers)["error"].startswith(b"record too large")


def test_event_too_deep_to_forward_is_dead_lettered_and_the_batch_goes_on():
    """The shipped rules repartition by ip: every event with an ip is written again. An event
    nested deeper than orjson writes used to raise there and stop the worker."""
    proc, topic = processor()
    deep = b'{"event_id":"d","ts":1795392000000,"org_id":"o1","account_id":"a1","ip":"1.2.3.4",'
    deep += b'"attrs":'
    deep += b'{"x":' * 300 + b"1" + b"}" * 300 + b"}"
    out = proc.process(
        (topic, 0), [Record(topic, 0, 0, None, deep), Record(topic, 0, 1, None, event_bytes(1))]
    )
    (dead,) = out.dead
    assert dead.value == deep
    error = dict(dead.headers)["error"].decode()
    assert error.startswith("not valid JSON: nested deeper") and dead.reason == "not_json"
    forwarded = [read_any(v)[2] for _, _, v in out.forwards]
    assert [e["event_id"] for b in forwarded for e in b].count("e1") >= 1
