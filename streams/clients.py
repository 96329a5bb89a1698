"""Where the worker gets its Kafka clients. Tests pass in-memory ones (tests/unit/streams/
memory_kafka.py), so that crashes at chosen points of a transaction can be replayed exactly."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient


class KafkaClients:
    def consumer(self, **options: object) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(**options)

    def producer(self, **options: object) -> AIOKafkaProducer:
        return AIOKafkaProducer(**options)

    def admin(self, **options: object) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**options)
