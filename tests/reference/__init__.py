"""The engine's semantics in plain Python: an independent reference evaluator for the tests.

The product runs one engine, the compiled core (`signalfire.engine.core.CoreEngine`). This
package evaluates the same rules over the same input with none of its code: `events` decodes
and checks records, `filters` selects a rule's events, `detectors/` and `lifecycle` decide the
pages, `engine.Engine` drives them batch by batch in event time. The differential tests
(tests/unit/core/) run generated streams through both and require identical pages, evidence,
dead letters and counts; its job is to be obviously right, never fast. Product code never
imports it.
"""
