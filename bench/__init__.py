"""Benchmarks of openamr's ingest and read paths, each against the raw database in the same run.

Run with `make bench` or `python -m bench --help`; docs/performance.md says what is
measured and records the figures of a full run.
"""
