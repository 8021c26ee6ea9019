"""Benchmarks: fboost timed beside the reference it wraps or competes with, in one process."""
