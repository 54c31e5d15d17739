"""Deliveries (the outbox rows of invariant 1), suppression, sending, bounces."""
