"""The page store: pager messages in SQLite or PostgreSQL, for the console and reports.

`open_store(url)` gives a migrated `Store`; see `alerting.store.store` for its API and
docs/operations.md ("The page store") for URLs, retention and migrations.
"""

from alerting.store.db import StoreError, StoreRefused, StoreUnavailable
from alerting.store.migrations import LATEST, SchemaTooNew
from alerting.store.model import (
    Acknowledgement,
    AuditEntry,
    BadCursor,
    Delivery,
    EntityEpisode,
    Held,
    IncidentDetail,
    IncidentEntity,
    IncidentFilter,
    IncidentList,
    IncidentPage,
    IncidentState,
    Page,
    PageDetail,
    PageFilter,
    PageIncident,
    PageList,
    PageMessage,
    Purged,
    Recorded,
    Snooze,
    State,
    StoredIncident,
    TriageFact,
    Verdict,
    VerdictName,
)
from alerting.store.rows import Unstorable
from alerting.store.store import Store, open_store
from alerting.store.url import StoreUrl, StoreUrlError, parse_store_url

__all__ = [
    "LATEST",
    "Acknowledgement",
    "AuditEntry",
    "BadCursor",
    "Delivery",
    "EntityEpisode",
    "Held",
    "IncidentDetail",
    "IncidentEntity",
    "IncidentFilter",
    "IncidentList",
    "IncidentPage",
    "IncidentState",
    "Page",
    "PageDetail",
    "PageFilter",
    "PageIncident",
    "PageList",
    "PageMessage",
    "Purged",
    "Recorded",
    "SchemaTooNew",
    "Snooze",
    "State",
    "Store",
    "StoreError",
    "StoreRefused",
    "StoreUnavailable",
    "StoreUrl",
    "StoreUrlError",
    "StoredIncident",
    "TriageFact",
    "Unstorable",
    "Verdict",
    "VerdictName",
    "open_store",
    "parse_store_url",
]
