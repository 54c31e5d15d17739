"""Process entry points: RQ worker, clock, inbound receiver, dev tools. Thin."""
