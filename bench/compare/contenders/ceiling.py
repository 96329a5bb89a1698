"""The ceiling: bench.e2e's aiokafka `getmany` + `orjson.loads` loop, no detection."""

from __future__ import annotations

import asyncio
import sys

from bench.compare.shared import Job, write_result
from bench.e2e.__main__ import ceiling


def main() -> None:
    job = Job.load(sys.argv[1])
    eps = asyncio.run(ceiling(job.brokers, job.topic, job.records))
    write_result(job.result, job.records / eps, job.records, None)


if __name__ == "__main__":
    main()
