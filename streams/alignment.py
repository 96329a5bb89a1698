"""Where the assigned partitions stand against the end of their topics: the lag reported, the
partitions with records still to read, and input partitions paused while far ahead of the
others in event time."""

from __future__ import annotations

from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerting.metrics import Metrics
from streams.outputs import Partition
from streams.processor import Processor


def report_lag(consumer: AIOKafkaConsumer, processor: Processor, metrics: Metrics) -> None:
    """Records behind the end of each assigned partition (bounded labels: topic, partition)."""
    for (topic, partition), work in processor.works.items():
        end = consumer.highwater(TopicPartition(topic, partition))
        if end is not None:
            metrics.set_consumer_lag(topic, partition, max(0, end - (work.next_offset or 0)))


def pending(consumer: AIOKafkaConsumer, processor: Processor) -> list[Partition]:
    """Assigned partitions with records still to read (behind the end, or paused)."""
    paused = consumer.paused()
    found = []
    for (topic, partition), work in processor.works.items():
        tp = TopicPartition(topic, partition)
        end = consumer.highwater(tp)
        if tp in paused or end is None or (work.next_offset or 0) < end:
            found.append((topic, partition))
    return found


def align(
    consumer: AIOKafkaConsumer,
    processor: Processor,
    slack: int,
    held: Collection[Partition] = (),
) -> None:
    """Keep input partitions within `slack` of each other in event time, and partitions in
    `held` (their engine being saved) paused.

    Their events meet again in the repartition topics, where they wait until every input
    partition has passed them; a partition far ahead would only make them wait longer.
    Partitions with nothing left to read do not hold the others back.
    """
    behind: dict[TopicPartition, int] = {}
    for (topic, partition), (now, next_offset) in processor.input_clocks().items():
        tp = TopicPartition(topic, partition)
        end = consumer.highwater(tp)
        if end is None or next_offset is None or next_offset < end:
            behind[tp] = now
    paused = set(consumer.paused())
    kept = {TopicPartition(*tp) for tp in held}
    floor = min(behind.values(), default=0)
    ahead = {tp for tp, now in behind.items() if now > floor + slack} | kept
    if ahead - paused:
        consumer.pause(*(ahead - paused))
    release = (paused - ahead) & set(consumer.assignment())
    if release:
        consumer.resume(*release)
