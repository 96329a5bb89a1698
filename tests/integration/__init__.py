"""Integration tests against real external components (a real Kafka broker, ...)."""
