"""Inputs shared by the command-line tests: a one-rule catalogue and small events files."""

import gzip
import textwrap
from pathlib import Path

import orjson

RULE = textwrap.dedent("""\
    id: burst
    title: Burst
    severity: critical
    group_by: [org_id]
    detect: {type: threshold, window: 60s, threshold: 5}
    tests:
      - name: fires
        events: [{ts: 0, org_id: o1, repeat: 6, every: 1s}]
        expect: [{action: trigger, group: {org_id: o1}, at: 5s}]
      - name: quiet
        events: [{ts: 0, org_id: o1, repeat: 5, every: 1s}]
        expect: []
""")


def make_rules_dir(parent: Path) -> Path:
    d = parent / "rules"
    d.mkdir()
    (d / "burst.yaml").write_text(RULE)
    return d


def event_lines(n: int = 20, org: str = "o1", step: int = 100) -> bytes:
    """`n` valid events, then a line that is not JSON and one without `ts`."""
    lines = [orjson.dumps({"event_id": f"e{i}", "ts": i * step, "org_id": org}) for i in range(n)]
    lines.append(b"not json")
    lines.append(b'{"event_id": "x", "org_id": "o1"}')
    return b"\n".join(lines) + b"\n"


def events_file(path: Path, n: int = 20, org: str = "o1", step: int = 100) -> Path:
    data = event_lines(n, org, step)
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
    return path
