"""Benchmarks of toggl-groups-mcp: Toggl requests per workflow, per-call overhead, cold start,
context cost, bulk pacing and memory. ``python -m bench`` (or ``make bench``) runs them; see
bench/README.md. Importing the package (or any module of it) starts nothing.
"""
