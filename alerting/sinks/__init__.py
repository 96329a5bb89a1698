"""Sinks: where the bridge forwards pager messages (one module per sink)."""
