"""Benchmarks of ``nn``: they live here, above the ``dualad`` package they also use, so that
nothing in ``dualad`` imports ``nn``. Run a module with ``python -m nn.benchmarks.NAME``."""
