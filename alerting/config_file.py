"""What the bridge's and the console's YAML configs share: reading the file, and durations.

Problems go to a `Problems` of the file, reported as `file:line: message`, all at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signalfire.durations import DurationError, parse_duration_ms
from signalfire.rules.problems import Problems
from signalfire.rules.yamlsrc import LineDict, YamlSyntaxError, load_yaml


def read_config(path: Path, problems: Problems) -> Any:
    """The file's YAML document; None with the reason in `problems` when it cannot be read."""
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.add(1, f"cannot read: {exc.strerror}")
    except UnicodeDecodeError:
        problems.add(1, "not UTF-8 text")
    except YamlSyntaxError as exc:
        problems.add(exc.line, exc.message)
    return None


def duration_ms(problems: Problems, d: LineDict, key: str, default_ms: int) -> int:
    """`d[key]` as a positive duration (`30s`, `1h`), or the default when absent or bad."""
    if key not in d:
        return default_ms
    try:
        ms = parse_duration_ms(d[key])
    except DurationError as exc:
        problems.add(d.line_of(key), f"{key}: {exc}")
        return default_ms
    if ms <= 0:
        problems.add(d.line_of(key), f"{key}: must be more than zero")
        return default_ms
    return ms
