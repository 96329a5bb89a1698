"""`python -m bench.soak`: the fault suite at soak length, run by hand.

The same tests as `make faults` (tests/faults, against real Kafka), with the kill -9 loop at
`--kills` kills per worker count (default 100) over a longer stream. Prints each test's figures
and, on the last line, the summary JSON: faults_injected, pages_expected, pages_received, lost,
duplicated, dead_lettered, crashes. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--kills", type=int, default=100, help="kill -9 per worker count")
    parser.add_argument("--events", type=int, default=300_000, help="events in the stream")
    parser.add_argument(
        "--only-kills", action="store_true", help="only the kill -9 loop, not the other faults"
    )
    args = parser.parse_args(argv)
    summary = ROOT / ".cache" / "soak-summary.json"
    summary.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SIGNALFIRE_SOAK_KILLS": str(args.kills),
        "SIGNALFIRE_SOAK_EVENTS": str(args.events),
        "SIGNALFIRE_FAULTS_SUMMARY": str(summary),
    }
    target = "tests/faults/test_kill_loop.py" if args.only_kills else "tests/faults"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "integration", target],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    if summary.exists():
        figures = [sys.executable, "-m", "tests.faults.figures", str(summary)]
        subprocess.run(figures, cwd=ROOT, check=True)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
