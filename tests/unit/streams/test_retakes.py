"""When a failed transaction is met by taking the partitions over again, how long the worker
waits first, and when it gives up and stops."""

from itertools import pairwise

import pytest
from aiokafka.errors import KafkaConnectionError, ProducerFenced

from streams.retakes import ATTEMPTS, FIRST_WAIT_S, MAX_WAIT_S, Retakes


def test_waits_double_from_the_first_up_to_the_longest():
    retakes = Retakes()
    failure = KafkaConnectionError("closed")
    waits = [retakes.wait(failure, commits=0) for _ in range(ATTEMPTS)]
    assert waits[0] == FIRST_WAIT_S
    assert all(b == min(2 * a, MAX_WAIT_S) for a, b in pairwise(waits))
    assert waits[-1] == MAX_WAIT_S


def test_gives_up_with_the_failure_once_every_attempt_failed_without_a_commit_between():
    retakes = Retakes()
    for _ in range(ATTEMPTS):
        retakes.wait(KafkaConnectionError("closed"), commits=3)
    last = KafkaConnectionError("still closed")
    with pytest.raises(KafkaConnectionError) as raised:
        retakes.wait(last, commits=3)
    assert raised.value is last


def test_a_commit_since_the_last_attempt_starts_the_count_again():
    retakes = Retakes()
    for _ in range(ATTEMPTS):
        retakes.wait(KafkaConnectionError("closed"), commits=3)
    assert retakes.wait(KafkaConnectionError("closed"), commits=4) == FIRST_WAIT_S
    assert retakes.wait(KafkaConnectionError("closed"), commits=4) == 2 * FIRST_WAIT_S


@pytest.mark.parametrize("fatal", [ProducerFenced(), ProducerFenced("another owner")])
def test_a_fenced_producer_is_never_retaken(fatal):
    """Another worker owns the partition now: taking it again would fence that one in turn."""
    with pytest.raises(ProducerFenced):
        Retakes().wait(fatal, commits=0)
