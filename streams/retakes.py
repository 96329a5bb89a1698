"""A failed transaction, met without stopping the worker: its partitions are taken over again
from what was committed, as a restarted worker would take them, after a wait that doubles with
each attempt that fails before any transaction commits.

A failure that taking over cannot mend stops the worker at once: a fenced producer (another
worker owns the partition now; taking it again would fence that one in turn) or a transactional
id the worker may not use. So does any failure once `ATTEMPTS` take-overs in a row have not
led to a commit: what keeps failing is left to the orchestrator's restart and to the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka.errors import ProducerFenced, TransactionalIdAuthorizationFailed

FATAL = (ProducerFenced, TransactionalIdAuthorizationFailed)
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 8.0
# 0.5 + 1 + 2 + 4 + 8 x 6 = 55.5 s of waits: a broker restart, even a slow one, fits.
ATTEMPTS = 10


class Retakes:
    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.sleep = sleep
        self.in_a_row = 0
        # Transactions committed when the last attempt was made: more since means it worked.
        self.commits = -1

    def wait(self, failure: BaseException, commits: int) -> float:
        """Seconds to wait before taking the partitions over again after `failure`, with
        `commits` transactions committed so far; raises `failure` if the worker must stop."""
        if isinstance(failure, FATAL) or not isinstance(failure, Exception):
            raise failure
        if commits != self.commits:
            self.in_a_row = 0
        self.commits = commits
        if self.in_a_row >= ATTEMPTS:
            raise failure
        self.in_a_row += 1
        wait_s: float = FIRST_WAIT_S * 2.0 ** (self.in_a_row - 1)
        return min(wait_s, MAX_WAIT_S)
