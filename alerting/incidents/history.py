"""Every incident of a run, from the messages and the correlator's decisions about them.

The correlator forgets what it no longer needs; a backtest wants every incident at the end.
`History` folds each (message, decision) into its incidents and forgets nothing: for runs over
files, not for the long-lived bridge.
"""

from __future__ import annotations

from alerting.incidents.model import Decision, Incident, page_time
from alerting.incidents.state import IncidentState
from alerting.pager import PagerMessage


class History:
    def __init__(self) -> None:
        self._incidents: dict[str, IncidentState] = {}  # in order of opening
        self._seq = 0

    def record(self, message: PagerMessage, decision: Decision) -> None:
        """What `decision` did to its incident (an `alone` resolve belongs to none)."""
        what = decision.what
        if what in ("updated", "alone"):
            return
        at = page_time(message)
        inc = self._incidents.get(decision.incident)
        if what == "opened":
            if inc is not None:  # a repeat
                return
            inc = IncidentState(decision.incident, self._seq, decision.root, at, at)
            self._incidents[inc.id] = inc
            self._seq += 1
        if inc is None:
            return  # about an incident opened before the history began
        if what in ("opened", "joined", "absorbed"):
            p = message.payload
            entities = p.custom_details.entities
            inc.enter(message.dedup_key, p.component, entities, at, decision.absorbed_by)
        elif message.dedup_key in inc.pages:  # page_resolved or resolved
            inc.leave(message.dedup_key, at)

    def incidents(self) -> list[Incident]:
        """Every incident recorded, in order of opening."""
        return [inc.view() for inc in self._incidents.values()]
