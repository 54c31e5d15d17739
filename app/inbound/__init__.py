"""Inbound mail: stored raw first, then parsed and routed (invariant 4)."""
