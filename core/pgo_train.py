"""The workload a profile-guided build of the core learns from (core/pgo.sh runs it against the
instrumented build): the shipped catalogue over generated traffic, through the paths that carry
events in production.

- the engine alone, as `signalfire backtest` and `python -m bench.engine` run it, on one thread
  and on two;
- the worker's processing without Kafka: an input partition's engine that routes events to the
  repartition families, and each family's engine merging what it was forwarded;
- a snapshot saved and restored.

Its traffic has a seed and size of its own, not the benchmarks' (seed 7): the build learns the
shape of the traffic, not the events it is measured on.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import orjson

from signalfire.engine import EngineSettings
from signalfire.engine.core import CoreEngine
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.processor import Processor

EVENTS = 200_000
SEED = 2027
BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Consumed:
    """A record as the worker's processor takes it (streams.records.Record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def engine_alone(rules: list[Rule], values: list[bytes], threads: int) -> CoreEngine:
    engine = CoreEngine(rules, EngineSettings(threads=threads))
    for i in range(0, len(values), BATCH):
        engine.process(values[i : i + BATCH])
    engine.flush()
    return engine


def worker(rules: list[Rule], values: list[bytes]) -> None:
    config = WorkerConfig(core_threads=2)
    processor = Processor(config, rules, time.time)
    topics = processor.topics()
    processor.assign((topic, 0) for topic in topics)
    offsets: defaultdict[str, int] = defaultdict(int)

    def feed(topic: str, batch: list[bytes]) -> list[tuple[str, int, bytes]]:
        start = offsets[topic]
        offsets[topic] += len(batch)
        records = [Consumed(topic, 0, start + n, None, v) for n, v in enumerate(batch)]
        return processor.process((topic, 0), records).forwards

    for i in range(0, len(values), BATCH):
        forwarded: defaultdict[str, list[bytes]] = defaultdict(list)
        for topic, _, value in feed(config.events_topic, values[i : i + BATCH]):
            forwarded[topic].append(value)
        for topic, batch in forwarded.items():
            feed(topic, batch)


def main() -> int:
    started = time.perf_counter()
    rules = list(load_rules(["rules"]).rules)
    values = [orjson.dumps(e) for e in iter_events(GeneratorConfig(seed=SEED, events=EVENTS))]
    for threads in (2, 1):
        engine = engine_alone(rules, values, threads)
    CoreEngine(rules, EngineSettings(), engine.save()).flush()
    worker(rules, values)
    print(
        f"core/pgo_train.py: {len(values):,} events through the engine twice and the worker "
        f"once in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
