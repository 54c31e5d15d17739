"""The chaos run (`make chaos`): Hearth as separate OS processes against
PostgreSQL and Redis, driven by a simulated programme while faults are
injected, then checked for anything lost or doubled. See `chaos/README.md`."""
