"""The fault suite's figures, written at the end of the session for `make faults`.

`SIGNALFIRE_FAULTS_SUMMARY` names the file (default `.cache/faults-summary.json`);
`python -m tests.faults.figures FILE` prints it, the summary as the last line.
"""

import os
from pathlib import Path

import pytest

from tests.faults import figures

ROOT = Path(__file__).resolve().parents[2]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if figures.RUNS:
        default = ROOT / ".cache" / "faults-summary.json"
        figures.write(Path(os.environ.get("SIGNALFIRE_FAULTS_SUMMARY", default)))
