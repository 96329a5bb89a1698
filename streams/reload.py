"""Rules hot reload: the rules directory checked every reload interval and on SIGHUP.

A rule set with any problem is rejected: its problems are logged as `file:line: message`,
counted, and the running set goes on. A valid set is handed back to replace it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alerting.metrics import Metrics
from signalfire.rules import RuleSetError, load_rules
from signalfire.rules.loader import rule_files
from signalfire.rules.model import Rule

log = logging.getLogger("signalfire.worker")


def rules_fingerprint(directory: str) -> tuple[tuple[str, int, int], ...]:
    """What changes when a rule file is edited, added or removed."""
    found = []
    for path in rule_files([directory]):
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(found)


class RuleReload:
    def __init__(self, directory: str, interval_ms: int, metrics: Metrics) -> None:
        self.directory = directory
        self.interval_s = interval_ms / 1000
        self.metrics = metrics
        self.requested = False  # SIGHUP: load the directory whether it changed or not
        self._fingerprint = rules_fingerprint(directory)
        self._next_check = 0.0

    def check(self, now: float, running: int) -> list[Rule] | None:
        """The new rule set, when one is asked for or the directory changed and it is valid.
        `running` is the size of the running set, which a rejected one leaves in place."""
        if not self.requested and now < self._next_check:
            return None
        self._next_check = now + self.interval_s
        fingerprint = rules_fingerprint(self.directory)
        if not self.requested and fingerprint == self._fingerprint:
            return None
        self.requested = False
        self._fingerprint = fingerprint
        try:
            ruleset = load_rules([Path(self.directory)])
        except RuleSetError as exc:
            for problem in exc.problems:
                log.error("rules reload rejected: %s", problem)
            self.metrics.rules_reloaded(ok=False, loaded=running)
            return None
        return list(ruleset.rules)
