"""A page as the bridge delivers it with incidents: with `custom_details.incident` set from the
correlator's decision."""

from __future__ import annotations

import dataclasses

from alerting.incidents.model import Decision
from alerting.pager import IncidentRef, PagerMessage, RootRef
from signalfire.timestamps import iso_ms


def incident_ref(decision: Decision) -> IncidentRef:
    root = decision.root
    return IncidentRef(
        id=decision.incident,
        status=decision.what,
        root=RootRef(root.name, root.value, root.ref),
        opened_at=iso_ms(decision.opened_at),
        pages=decision.pages,
        firing=decision.firing,
        absorbed_by=decision.absorbed_by,
    )


def with_incident(message: PagerMessage, decision: Decision) -> PagerMessage:
    details = dataclasses.replace(message.payload.custom_details, incident=incident_ref(decision))
    payload = dataclasses.replace(message.payload, custom_details=details)
    return dataclasses.replace(message, payload=payload)
