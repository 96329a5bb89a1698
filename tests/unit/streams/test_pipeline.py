"""The pipeline on an in-memory Kafka with a wall clock the test moves: topics, rules hot
reload, lag, alignment of input partitions and dead letters the DLQ topic cannot hold."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules import load_rules
from streams.config import WorkerConfig
from streams.pipeline import Pipeline
from streams.recovery import Capture
from streams.retakes import ATTEMPTS
from streams.state import Snapshot
from streams.transactions import MAX_QUEUED_BATCHES
from tests.unit.streams.memory_kafka import Broker, MemoryClients, NoFreeze, Process, Wall

EVENTS = "usage-events"
BUSY_ORG = """\
id: busy_org
title: Busy org
severity: warning
group_by: [org_id]
detect: {type: threshold, window: 1m, op: ">", threshold: 3}
"""
BUSY_IP = """\
id: busy_ip
title: Busy ip
severity: warning
group_by: [ip]
detect: {type: threshold, window: 1m, op: ">", threshold: 3}
"""
HALF_WRITTEN = """\
id: half_written
title: A rule someone is still typing
severity: critical
group_by: [org_id]
detect: {type: threshold, window: 1 minute, threshold: 10}
"""


class Worker:
    def __init__(self, broker: Broker, rules: Path | str, **settings: Any) -> None:
        self.wall = Wall()
        self.registry = CollectorRegistry()
        self.config = WorkerConfig(rules=str(rules), group_id="sf", **settings)
        self.pipeline = Pipeline(
            self.config,
            list(load_rules([self.config.rules]).rules),
            Metrics.create(self.registry),
            self.wall,
            MemoryClients(Process(broker)),
        )
        self.pipeline.freezer = NoFreeze(1.0, self.wall())

    @property
    def consumer(self) -> Any:
        return self.pipeline.consumer

    async def poll(self, n: int = 1, every_s: float = 0.1) -> None:
        """`n` turns of the loop, each with its transactions settled."""
        for _ in range(n):
            await self.pipeline.poll()
            await self.pipeline.settle()
            self.wall.t += every_s

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(f"signalfire_{name}", labels)


def produce(broker: Broker, partition: int, events: list[dict[str, Any]]) -> None:
    for e in events:
        broker.produce(EVENTS, partition, str(e["org_id"]).encode(), orjson.dumps(e))


def requests(org: str, start: int, n: int, step: int = 1_000, ip: str = "10.0.0.1") -> list[Any]:
    return [
        {"event_id": f"{org}-{start + i * step}", "ts": start + i * step, "org_id": org, "ip": ip}
        for i in range(n)
    ]


def paged(broker: Broker) -> list[str]:
    return [
        orjson.loads(r.value or b"")["payload"]["component"]
        for r in broker.committed_records("pager")
    ]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "busy_org.yaml").write_text(BUSY_ORG)
    return rules


# -- topics ----------------------------------------------------------------------------------
async def test_missing_topics_are_created_with_the_input_topics_partition_count():
    broker = Broker()
    broker.create_topic(EVENTS, 3)
    await Worker(broker, "rules").pipeline.start()
    families = [t for t in broker.topics if t.startswith("sf.usage-events.by-")]
    assert families, "the catalogue has rules grouped by other fields than org_id"
    for topic in ["pager", "pager.shadow", "usage-events.dlq", "sf.state.usage-events", *families]:
        assert broker.topics[topic] == 3, topic
    assert broker.configs["sf.state.usage-events"]["cleanup.policy"] == "compact"
    assert {f"sf.state.{t}" for t in families} <= set(broker.topics)


# -- rules hot reload ------------------------------------------------------------------------
async def test_a_new_rule_file_is_picked_up_and_its_rule_pages(rules_dir):
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, reload_interval_ms=5_000)
    await worker.pipeline.start()
    await worker.poll()
    (rules_dir / "busy_ip.yaml").write_text(BUSY_IP)
    await worker.poll(4)  # within the reload interval: not looked at yet
    assert set(worker.pipeline.processor.rules) == {"busy_org"}
    worker.wall.t += 5
    await worker.poll()
    assert set(worker.pipeline.processor.rules) == {"busy_org", "busy_ip"}
    assert worker.metric("rules_reloads_total", outcome="ok") == 1
    assert worker.metric("rules_loaded") == 2
    # Its family's topics exist and are consumed.
    assert "sf.usage-events.by-ip" in broker.topics
    assert "sf.usage-events.by-ip" in worker.consumer.topics
    # Four requests of one org page busy_org; on an input partition, at once.
    produce(broker, 0, requests("o1", 0, 4))
    await worker.poll()
    assert paged(broker) == ["busy_org"]
    assert worker.metric("rule_triggers_total", rule="busy_org") == 1


async def test_a_bad_rule_file_is_rejected_and_counted_and_the_running_rules_go_on(
    rules_dir, caplog
):
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, reload_interval_ms=1_000)
    await worker.pipeline.start()
    (rules_dir / "half_written.yaml").write_text(HALF_WRITTEN)
    with caplog.at_level(logging.ERROR, logger="signalfire.worker"):
        await worker.poll(15)
    assert worker.metric("rules_reloads_total", outcome="rejected") == 1  # once per change
    assert worker.metric("rules_reloads_total", outcome="ok") == 0
    assert worker.metric("rules_loaded") == 1
    assert "half_written.yaml:5: detect.window" in caplog.text
    produce(broker, 0, requests("o1", 0, 4))
    await worker.poll()
    assert paged(broker) == ["busy_org"]
    # Fixed, the file is taken.
    (rules_dir / "half_written.yaml").write_text(HALF_WRITTEN.replace("1 minute", "1m"))
    await worker.poll(11)
    assert set(worker.pipeline.processor.rules) == {"busy_org", "half_written"}
    assert worker.metric("rules_reloads_total", outcome="ok") == 1


async def test_a_reload_asked_for_loads_the_rules_whether_they_changed_or_not(rules_dir):
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, reload_interval_ms=60_000)
    await worker.pipeline.start()
    await worker.poll()
    assert worker.metric("rules_reloads_total", outcome="ok") == 0
    worker.pipeline.reload.requested = True  # what SIGHUP does
    await worker.poll()
    assert worker.metric("rules_reloads_total", outcome="ok") == 1
    await worker.poll()
    assert worker.metric("rules_reloads_total", outcome="ok") == 1


# -- lag and alignment -----------------------------------------------------------------------
async def test_lag_is_the_records_behind_the_end_of_each_partition(rules_dir):
    broker = Broker()
    broker.create_topic(EVENTS, 2)
    produce(broker, 0, requests("o1", 0, 25))
    produce(broker, 1, requests("o2", 0, 3))
    broker.fetch_limit = 10
    worker = Worker(broker, rules_dir)
    await worker.pipeline.start()
    await worker.poll()
    assert worker.metric("consumer_lag_records", topic=EVENTS, partition="0") == 15
    assert worker.metric("consumer_lag_records", topic=EVENTS, partition="1") == 0
    await worker.poll(2)
    assert worker.metric("consumer_lag_records", topic=EVENTS, partition="0") == 0


async def test_an_input_partition_ahead_in_event_time_waits_for_the_others(rules_dir):
    """Partition 0 starts 10 minutes ahead of partition 1. Reading both at the same pace, it
    would stay ahead; paused, it waits until partition 1 is within half the allowed lateness
    (15 s) of it, and is read again from there."""
    broker = Broker()
    broker.create_topic(EVENTS, 2)
    produce(broker, 0, requests("ahead", 600_000, 50))
    produce(broker, 1, requests("behind", 0, 700))
    broker.fetch_limit = 10
    worker = Worker(broker, rules_dir, lateness_ms=30_000)
    await worker.pipeline.start()
    ahead = TopicPartition(EVENTS, 0)
    await worker.poll()
    assert worker.consumer.paused() == {ahead}
    clocks = worker.pipeline.processor.input_clocks
    while worker.consumer.paused():
        assert clocks()[(EVENTS, 0)] == (609_000, 10)  # not read while paused
        await worker.poll()
    assert clocks()[(EVENTS, 1)][0] >= 609_000 - 15_000
    await worker.poll(5)
    assert clocks()[(EVENTS, 0)][1] == 50


async def test_a_partition_with_nothing_left_to_read_holds_no_one_back(rules_dir):
    broker = Broker()
    broker.create_topic(EVENTS, 2)
    produce(broker, 0, requests("read", 0, 5))
    produce(broker, 1, requests("reading", 600_000, 50))
    broker.fetch_limit = 10
    worker = Worker(broker, rules_dir, lateness_ms=30_000)
    await worker.pipeline.start()
    await worker.poll()
    assert worker.consumer.paused() == set()


# -- dead letters ----------------------------------------------------------------------------
async def test_a_dead_letter_larger_than_the_dlq_topic_takes_keeps_only_its_headers(rules_dir):
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    broker.create_topic("usage-events.dlq", 1, {"max.message.bytes": "4000"})
    broker.produce(EVENTS, 0, b"k", b"{" + b"x" * 5_000)
    broker.produce(EVENTS, 0, b"k", b"{oops")
    worker = Worker(broker, rules_dir)
    await worker.pipeline.start()
    await worker.poll()
    big, small = broker.committed_records("usage-events.dlq")
    assert big.value == b"" and big.key == b"k"
    headers = dict(big.headers)
    assert headers["value_omitted_bytes"] == b"5001"
    assert headers["source_offset"] == b"0" and headers["error"].startswith(b"not valid JSON")
    assert small.value == b"{oops" and "value_omitted_bytes" not in dict(small.headers)
    assert worker.metric("events_dead_lettered_total", reason="not_json") == 2


# -- transactions in flight ------------------------------------------------------------------
def before_offsets(worker: Worker, step: Callable[[], Awaitable[object]]) -> None:
    """Every transaction of the worker runs `step` before it sends its offsets."""
    clients = worker.pipeline.clients
    make = clients.producer

    def producer(**options: Any) -> Any:
        made = make(**options)
        send_offsets = made.send_offsets_to_transaction

        async def stepped(offsets: Any, group_id: str) -> None:
            await step()
            await send_offsets(offsets, group_id)

        made.send_offsets_to_transaction = stepped
        return made

    clients.producer = producer  # type: ignore[method-assign]


def committed(broker: Broker, partition: int) -> int | None:
    found = broker.groups.get("sf", {}).get((EVENTS, partition))
    return None if found is None else found.offset


async def held_back(rules_dir: Path, **settings: Any) -> tuple[Broker, Worker, asyncio.Event]:
    """A started worker on one partition whose transactions wait for the event before they
    send their offsets."""
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, **settings)
    release = asyncio.Event()
    before_offsets(worker, release.wait)
    await worker.pipeline.start()
    return broker, worker, release


async def test_the_next_batch_is_processed_while_the_previous_one_commits(rules_dir):
    broker, worker, release = await held_back(rules_dir)
    produce(broker, 0, requests("o1", 0, 2))
    await worker.pipeline.poll()  # its transaction starts and waits
    produce(broker, 0, requests("o1", 2_000, 2))
    await worker.pipeline.poll()  # the loop does not wait for it
    produce(broker, 0, requests("o1", 4_000, 1))
    await worker.pipeline.poll()
    # Both batches are read and processed, but nothing is committed: their transaction does
    # not start before the first one's ends.
    assert worker.metric("events_consumed_total", topic=EVENTS) == 5
    assert worker.metric("rule_triggers_total", rule="busy_org") is None
    assert committed(broker, 0) is None and paged(broker) == []
    assert worker.pipeline.txns.queued[(EVENTS, 0)].batches == 2
    release.set()
    await worker.pipeline.settle()
    # The second transaction holds both batches: one page, everything committed.
    assert committed(broker, 0) == 5 and paged(broker) == ["busy_org"]
    assert worker.metric("rule_triggers_total", rule="busy_org") == 1
    assert not worker.pipeline.txns.queued


async def test_a_partition_whose_transactions_fall_behind_holds_the_loop_back(rules_dir):
    broker, worker, release = await held_back(rules_dir, commit_interval_ms=0)
    for n in range(MAX_QUEUED_BATCHES + 1):
        produce(broker, 0, requests(f"o{n}", n * 1_000, 1))
        await worker.pipeline.poll()
    assert worker.pipeline.txns.queued[(EVENTS, 0)].batches == MAX_QUEUED_BATCHES
    produce(broker, 0, requests("late", 100_000, 1))
    held = asyncio.create_task(worker.pipeline.poll())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not held.done()  # waits for the partition's transactions before reading on
    release.set()
    await held
    await worker.pipeline.settle()
    assert committed(broker, 0) == MAX_QUEUED_BATCHES + 2


async def test_a_transaction_failing_while_the_loop_waits_for_it_is_retaken_too(rules_dir):
    """The loop waits for a partition that fell behind; the transaction it waits for fails.
    The turn ends without raising, and the next takes the partition over again."""
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, commit_interval_ms=0)
    release = asyncio.Event()
    refusals = refusing_offsets(worker)
    refusals.left = 1
    before_offsets(worker, release.wait)  # runs before the refusal: waits, then is refused
    await worker.pipeline.start()
    for n in range(MAX_QUEUED_BATCHES + 1):
        produce(broker, 0, requests(f"o{n}", n * 1_000, 1))
        await worker.pipeline.poll()
    produce(broker, 0, requests("o1", 100_000, 4))
    held = asyncio.create_task(worker.pipeline.poll())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not held.done()
    release.set()
    await held  # the failure is met at the next turn, not raised out of this one
    await turns(worker, 5)
    assert committed(broker, 0) == MAX_QUEUED_BATCHES + 5 and paged(broker) == ["busy_org"]
    assert worker.metric("transaction_retakes_total") == 1


async def test_a_snapshot_is_written_while_the_next_batch_is_processed(rules_dir):
    """A checkpoint holds its batch's state, taken when that batch was done; writing it does
    not hold up the loop."""
    broker, worker, release = await held_back(rules_dir)
    worker.pipeline.txns.snapshot_due[(EVENTS, 0)] = 0.0  # due at the first turn
    produce(broker, 0, requests("o1", 0, 2))
    first = asyncio.create_task(worker.pipeline.poll())
    for _ in range(20):
        await asyncio.sleep(0)
    assert first.done()  # the turn is over; its transaction, with the snapshot, waits
    await worker.pipeline.txns.saved([(EVENTS, 0)])  # the engine's state, saved in a thread
    produce(broker, 0, requests("o1", 2_000, 2))
    second = asyncio.create_task(worker.pipeline.poll())
    for _ in range(20):
        await asyncio.sleep(0)
    assert worker.metric("events_consumed_total", topic=EVENTS) == 4
    assert committed(broker, 0) is None
    release.set()
    await second
    await worker.pipeline.settle()
    (state,) = broker.committed_records("sf.state.usage-events")
    snapshot = Snapshot.decode(state.value or b"")
    assert snapshot.offset == 2 and snapshot.work.next_offset == 2
    assert CoreEngine([], EngineSettings(), snapshot.engine).now == 1_000
    assert committed(broker, 0) == 4 and paged(broker) == ["busy_org"]


async def test_a_partition_being_saved_is_read_again_after_its_save_while_the_others_go_on(
    rules_dir, monkeypatch
):
    """A checkpoint saves its partition's engine in a thread. That partition is not read from
    until the save is done (a batch of it fetched meanwhile is read again after), so the
    snapshot holds the state it was taken at; the other partitions' batches are processed and
    committed meanwhile, the loop never waiting for the save."""
    gate = threading.Event()
    take = Capture.take

    def held_take(self: Capture, pager_ends: dict[int, int]) -> Snapshot:
        assert gate.wait(10)
        return take(self, pager_ends)

    monkeypatch.setattr(Capture, "take", held_take)
    broker = Broker()
    broker.create_topic(EVENTS, 2)
    worker = Worker(broker, rules_dir)
    await worker.pipeline.start()
    txns, works = worker.pipeline.txns, worker.pipeline.processor.works
    txns.snapshot_due.update({(EVENTS, 0): 0.0, (EVENTS, 1): math.inf})
    saved = TopicPartition(EVENTS, 0)
    try:
        produce(broker, 0, requests("o1", 0, 2))
        produce(broker, 1, requests("o2", 0, 2))
        await worker.pipeline.poll()
        assert set(txns.saving) == {(EVENTS, 0)} and saved in worker.consumer.paused()
        produce(broker, 0, requests("o1", 2_000, 2))
        produce(broker, 1, requests("o2", 2_000, 2))
        worker.consumer.resume(saved)  # as if its next batch had been fetched already
        for _ in range(3):
            await worker.pipeline.poll()
            worker.wall.t += 0.1
        for _ in range(1_000):
            if committed(broker, 1) == 4:
                break
            await asyncio.sleep(0.001)
        assert committed(broker, 1) == 4 and paged(broker) == ["busy_org"]  # o2's
        assert works[(EVENTS, 0)].next_offset == 2 and committed(broker, 0) is None
        assert saved in worker.consumer.paused()
    finally:
        gate.set()
    await txns.saved([(EVENTS, 0)])
    await worker.poll(3)
    (state,) = broker.committed_records("sf.state.usage-events")
    snapshot = Snapshot.decode(state.value or b"")
    assert state.partition == 0 and snapshot.offset == 2
    assert CoreEngine([], EngineSettings(), snapshot.engine).now == 1_000
    assert committed(broker, 0) == 4 and paged(broker) == ["busy_org", "busy_org"]
    assert saved not in worker.consumer.paused()


class Refused(Exception):
    pass


async def no_wait(seconds: float) -> None:
    pass


@dataclass
class Refusals:
    """How many more transactions that send offsets fail there."""

    left: float = 0


def refusing_offsets(worker: Worker) -> Refusals:
    """Every transaction of the worker fails before its offsets while `left` is above 0; a
    take-over after one does not wait."""
    refusals = Refusals()

    async def refuse() -> None:
        if refusals.left > 0:
            refusals.left -= 1
            raise Refused("the broker refused the offsets")

    before_offsets(worker, refuse)
    worker.pipeline.retakes.sleep = no_wait
    return refusals


async def turns(worker: Worker, n: int) -> None:
    """`n` turns of the loop, letting the transactions they start run between turns."""
    for _ in range(n):
        await worker.pipeline.poll()
        for _ in range(20):
            await asyncio.sleep(0)
        worker.wall.t += 0.1


async def one_batch_committed(rules_dir: Path) -> tuple[Broker, Worker, Refusals]:
    """A started worker on one partition whose first batch is committed, its transactions
    refused from when the test says so."""
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir)
    refusals = refusing_offsets(worker)
    await worker.pipeline.start()
    produce(broker, 0, requests("o1", 0, 2))
    await worker.poll()
    assert committed(broker, 0) == 2
    return broker, worker, refusals


async def test_a_failed_transaction_is_done_again_from_what_was_committed(rules_dir):
    """The worker takes its partitions over again, as a restarted one would: the failed
    batch's page is sent once, and the worker goes on."""
    broker, worker, refusals = await one_batch_committed(rules_dir)
    refusals.left = 1
    produce(broker, 0, requests("o1", 2_000, 2))
    await turns(worker, 10)
    assert committed(broker, 0) == 4 and paged(broker) == ["busy_org"]
    assert worker.metric("transaction_retakes_total") == 1
    produce(broker, 0, requests("o2", 4_000, 4))
    await worker.poll(3)
    assert committed(broker, 0) == 8 and paged(broker) == ["busy_org", "busy_org"]
    await worker.pipeline.stop()


async def test_a_transaction_failing_every_time_stops_the_loop_and_nothing_more_is_committed(
    rules_dir,
):
    """Its batch's page is not lost: the hand-over writes no snapshot past it, and the next
    owner reads the batch again."""
    broker, worker, refusals = await one_batch_committed(rules_dir)
    refusals.left = math.inf
    produce(broker, 0, requests("o1", 2_000, 2))
    with pytest.raises(Refused):  # processed; its transaction fails in the background
        await turns(worker, 10 * ATTEMPTS)
    assert worker.metric("transaction_retakes_total") == ATTEMPTS
    await worker.pipeline.stop()
    assert committed(broker, 0) == 2 and paged(broker) == []
    assert broker.committed_records("sf.state.usage-events") == []

    successor = Worker(broker, rules_dir)
    await successor.pipeline.start()
    await successor.poll(3)
    assert committed(broker, 0) == 4 and paged(broker) == ["busy_org"]


async def test_a_fenced_producer_stops_the_loop_at_once(rules_dir):
    """Another worker owns the partition: taking it again would fence that one in turn."""
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir)

    async def fenced() -> None:
        raise ProducerFenced("another owner")

    before_offsets(worker, fenced)
    await worker.pipeline.start()
    produce(broker, 0, requests("o1", 0, 4))
    with pytest.raises(ProducerFenced):
        await turns(worker, 10)
    assert worker.metric("transaction_retakes_total") == 0
    assert committed(broker, 0) is None and paged(broker) == []


async def test_no_transaction_starts_once_one_has_failed(rules_dir):
    """Not even another partition's: the loop takes every partition over again first."""
    broker, worker = await one_partition(rules_dir)
    txns = worker.pipeline.txns
    txns.failed = Refused("an earlier transaction")
    produce(broker, 0, requests("o1", 0, 4))
    records = await worker.consumer.getmany(timeout_ms=0)
    ((tp, batch),) = ((k, v) for k, v in records.items())
    out = worker.pipeline.processor.process((tp.topic, tp.partition), batch)
    assert out.pages
    txns.start((tp.topic, tp.partition), out)
    assert (tp.topic, tp.partition) not in txns.in_flight and not txns.queued


async def one_partition(rules_dir: Path, **settings: Any) -> tuple[Broker, Worker]:
    """A started worker on an input topic of one partition."""
    broker = Broker()
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir, **settings)
    await worker.pipeline.start()
    return broker, worker


async def test_batches_that_write_nothing_commit_their_offset_once_per_commit_interval(rules_dir):
    """Pages commit with their batch; a batch that writes nothing leaves its offset to the next
    transaction, or to the turn its partition's commit interval is up in, records or not."""
    broker, worker = await one_partition(rules_dir, commit_interval_ms=1_000)
    produce(broker, 0, requests("o1", 0, 2))
    await worker.poll()
    assert committed(broker, 0) == 2  # its first transaction
    produce(broker, 0, requests("o2", 2_000, 2))
    await worker.poll()  # 0.1 s later: nothing to write, no transaction
    assert committed(broker, 0) == 2
    assert worker.metric("events_decoded_total") == 4
    produce(broker, 0, requests("o3", 4_000, 4))
    await worker.poll()  # a page: committed with its batch
    assert committed(broker, 0) == 8 and paged(broker) == ["busy_org"]
    produce(broker, 0, requests("o4", 8_000, 1))
    await worker.poll(5)  # the partition has nothing more to read
    assert committed(broker, 0) == 8
    await worker.poll(5)  # the interval is up, one turn later
    assert committed(broker, 0) == 9
    assert len(broker.committed_records("pager")) == 1


async def test_a_crash_before_the_interval_is_up_replays_what_wrote_nothing(rules_dir):
    broker, worker = await one_partition(rules_dir, commit_interval_ms=1_000)
    produce(broker, 0, requests("o1", 0, 3))
    await worker.poll()
    produce(broker, 0, requests("o2", 3_000, 2))
    await worker.poll()
    assert committed(broker, 0) == 3  # the o2 batch's offset is not committed: then a crash
    successor = Worker(broker, rules_dir, commit_interval_ms=1_000)
    await successor.pipeline.start()
    produce(broker, 0, requests("o2", 5_000, 2))  # o2's 4th event in a minute: a page
    await successor.poll(3)
    assert committed(broker, 0) == 7
    assert paged(broker) == ["busy_org"]
    assert successor.metric("events_decoded_total") == 7
