"""Benchmarks the project keeps: each target is measured as a ratio against a baseline timed in
the same run, on the machine at hand. Run a module with ``python -m dualad.benchmarks.NAME``."""
