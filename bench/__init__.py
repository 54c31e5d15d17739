"""Benchmark scenarios (`make bench`): Hearth against a baseline measured in
the same run, reported as ratios. Never part of the test suite."""
