"""Benchmarks of swell against the Redis job queues users would pick instead (not part of the tests)."""
