"""What the harness and every contender of `python -m bench.compare` share: the two rules as
hopping windows, the reference answer, the job and result files, the agreement check and the
summary.

The rules live once, as Signalfire YAML in `rules/`; Faust and Quix Streams get their windows
and thresholds from there. A rule with `bucket` equal to `window` counts, at any moment, the
current bucket plus the one before it; with events in event-time order, the largest value it
ever reaches for a key is the largest count of a hopping window of two buckets stepping by one.
So "the keys that breach at least once" is one set that all three compute exactly.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.e2e.__main__ import peak_rss_mb
from signalfire.rules.loader import load_rules

RULES_DIR = Path(__file__).resolve().parent / "rules"
RULE_IDS = {"org_requests": "bench_org_requests", "ip_accounts": "bench_ip_accounts"}
SHARED = tuple(RULE_IDS)
CONTENDERS = ("ceiling", "faust", "quix", "signalfire_two_rules", "signalfire_catalogue")
LABELS = {
    "ceiling": "aiokafka getmany + orjson (ceiling)",
    "faust": "faust-streaming agents + hopping Tables",
    "quix": "quixstreams hopping windows",
    "signalfire_two_rules": "signalfire worker, the 2 rules",
    "signalfire_catalogue": "signalfire worker, catalogue + 2",
}
SHORT = {
    "ceiling": "ceiling",
    "faust": "faust",
    "quix": "quix",
    "signalfire_two_rules": "sf-2",
    "signalfire_catalogue": "sf-cat",
}
# Longer than any generated run: no contender may drop an event as late. Input partitions are
# read at different event-time speeds, so after a repartition one key's events arrive far
# out of order; Signalfire merges them back into order, Faust and Quix must keep the windows.
KEEP_WINDOWS_MS = 7 * 24 * 3600 * 1000


def faust_expires_s(oldest_ms: int, now_s: float) -> float:
    """Faust's `expires` for windows that must outlive the run. Faust's table cleanup drops a
    window whose end is older than `expires` by the wall clock (`time.time()`), not by the
    stream's time, so for events recorded in the past it must also cover their age: else every
    window of old data goes at the next cleanup (every 30 s) and its count starts again."""
    return KEEP_WINDOWS_MS / 1000 + max(0.0, now_s - oldest_ms / 1000)


Breaches = dict[str, set[str]]


@dataclass(frozen=True)
class Hopping:
    size_ms: int
    step_ms: int
    threshold: int

    def starts(self, ts: int) -> range:
        """Starts of the windows holding `ts` (aligned on multiples of the step)."""
        last = ts - ts % self.step_ms
        return range(last - self.size_ms + self.step_ms, last + 1, self.step_ms)


@dataclass(frozen=True)
class Spec:
    org: Hopping
    ip: Hopping

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Spec:
        return cls(Hopping(**d["org"]), Hopping(**d["ip"]))


def load_spec(rules_dir: Path = RULES_DIR) -> Spec:
    """The hopping windows that the bench rules amount to (see the module docstring)."""
    ruleset = load_rules([rules_dir])
    windows = {}
    for name, rule_id in RULE_IDS.items():
        d = ruleset.by_id(rule_id).detect
        if d.window_ms != d.bucket_ms or d.op != ">" or d.threshold != int(d.threshold):
            raise ValueError(f"{rule_id}: the bench needs bucket == window, op '>', whole numbers")
        windows[name] = Hopping(2 * d.bucket_ms, d.bucket_ms, int(d.threshold))
    return Spec(windows["org_requests"], windows["ip_accounts"])


def is_request(event: Mapping[str, Any]) -> bool:
    return event.get("event_type", "request") == "request" and isinstance(event["org_id"], str)


def has_ip(event: Mapping[str, Any]) -> bool:
    return isinstance(event.get("ip"), str) and isinstance(event.get("account_id"), str)


def reference(events: Iterable[Mapping[str, Any]], spec: Spec) -> Breaches:
    """The answer, from the events alone: keys with a window over the threshold."""
    counts: dict[tuple[str, int], int] = {}
    accounts: dict[tuple[str, int], set[str]] = {}
    for e in events:
        ts = e["ts"]
        if is_request(e):
            for start in spec.org.starts(ts):
                k = (e["org_id"], start)
                counts[k] = counts.get(k, 0) + 1
        if has_ip(e):
            for start in spec.ip.starts(ts):
                accounts.setdefault((e["ip"], start), set()).add(e["account_id"])
    return {
        "org_requests": {org for (org, _), n in counts.items() if n > spec.org.threshold},
        "ip_accounts": {ip for (ip, _), s in accounts.items() if len(s) > spec.ip.threshold},
    }


# -- the job a contender process is given, and the result it writes ---------------------------
@dataclass(frozen=True)
class Job:
    brokers: str
    topic: str
    partitions: int
    group: str
    records: int  # everything in the topic
    requests: int  # records the org rule counts
    with_ip: int  # records the ip rule looks at
    oldest_ms: int  # the earliest event time in the topic
    spec: Spec
    result: str
    workdir: str

    def dump(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(asdict(self)))

    @classmethod
    def load(cls, path: str) -> Job:
        d = orjson.loads(Path(path).read_bytes())
        return cls(**{**d, "spec": Spec.from_dict(d["spec"])})


def write_result(
    path: str,
    elapsed_s: float,
    processed: int,
    breaches: Breaches | None,
    repeats: Mapping[str, int] | None = None,
) -> None:
    """Written once, atomically: the harness takes the file's appearance as 'done'."""
    body = {
        "elapsed_s": elapsed_s,
        "processed": processed,
        # Records a contender was handed again (an at-least-once redelivery), per branch.
        "repeats": dict(repeats or {}),
        # The harness reads VmHWM too, but a quick contender can exit before it looks. Not
        # `ru_maxrss`: that keeps the peak of the process this one was forked from before its
        # exec (the harness, holding every event).
        "rss_mb": peak_rss_mb(os.getpid()),
        "breaches": None if breaches is None else {k: sorted(v) for k, v in breaches.items()},
    }
    tmp = f"{path}.tmp"
    Path(tmp).write_bytes(orjson.dumps(body))
    os.replace(tmp, path)


def read_breaches(body: Mapping[str, Any]) -> Breaches | None:
    found = body.get("breaches")
    return None if found is None else {k: set(v) for k, v in found.items()}


@dataclass
class Progress:
    """Counts what a Faust or Quix contender has processed per branch and writes the result
    when every branch has seen all it should. Time runs from the first record processed.

    A branch that names its events (`add(branch, ident=event_id)`) counts each one once: a
    processor that redelivers after a rebalance or a retried send would otherwise reach its
    target while some events are still on their way, and stop before their breaches."""

    job: Job
    targets: dict[str, int]
    clock: Callable[[], float] = time.perf_counter
    breaches: Breaches = field(default_factory=lambda: {k: set() for k in SHARED})
    counts: dict[str, int] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    began: float | None = None
    done: bool = False

    def start(self) -> None:
        if self.began is None:
            self.began = self.clock()

    def add(self, branch: str, n: int = 1, ident: str | None = None) -> None:
        if ident is not None:
            seen = self.seen.setdefault(branch, set())
            if ident in seen:
                self.repeats[branch] = self.repeats.get(branch, 0) + 1
                return
            seen.add(ident)
        self.counts[branch] = self.counts.get(branch, 0) + n
        if self.done or any(self.counts.get(b, 0) < t for b, t in self.targets.items()):
            return
        self.done = True
        elapsed = self.clock() - (self.began if self.began is not None else self.clock())
        write_result(self.job.result, elapsed, self.job.records, self.breaches, self.repeats)


# -- agreement --------------------------------------------------------------------------------
def disagreements(answers: Mapping[str, Breaches | None], expected: Breaches) -> list[str]:
    """One line per contender and rule whose breach set differs from the expected one."""
    lines = []
    for name, got in answers.items():
        if got is None:
            continue
        for rule in SHARED:
            have = got.get(rule, set())
            missing, extra = sorted(expected[rule] - have), sorted(have - expected[rule])
            if missing or extra:
                lines.append(f"{name} {rule}: missing {missing[:20]} extra {extra[:20]}")
    return lines


# -- summary ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    eps: float
    rss_mb: float


def summary(
    events: int, measured: Mapping[str, Sequence[Measure]], breaches: Mapping[str, int]
) -> dict[str, Any]:
    """The JSON object printed last: median events/s and the highest peak RSS of the runs."""
    return {
        "events": events,
        "contenders": {
            name: {
                "eps": round(statistics.median(m.eps for m in runs)),
                "rss_mb": round(max(m.rss_mb for m in runs)),
                "runs_eps": [round(m.eps) for m in runs],
            }
            for name, runs in measured.items()
            if runs
        },
        "breaching_keys": dict(breaches),
    }


def table(result: Mapping[str, Any]) -> list[str]:
    """Events/s, share of the ceiling, peak RSS, then every ratio row / column."""
    rows: dict[str, dict[str, Any]] = result["contenders"]
    ceiling = rows.get("ceiling", {}).get("eps")
    out = [f"{'contender':<40}{'events/s':>11}{'vs ceiling':>12}{'peak RSS':>10}"]
    for name, r in rows.items():
        share = f"{r['eps'] / ceiling:.1%}" if ceiling else "-"
        out.append(f"{LABELS[name]:<40}{r['eps']:>11,}{share:>12}{r['rss_mb']:>7} MB")
    names = list(rows)
    out.append("")
    out.append("ratio of events/s, row / column")
    out.append(f"{'':<10}" + "".join(f"{SHORT[n]:>10}" for n in names))
    for a in names:
        cells = "".join(f"{rows[a]['eps'] / rows[b]['eps']:>10.2f}" for b in names)
        out.append(f"{SHORT[a]:<10}{cells}")
    return out
