"""Shared pytest setup: hypothesis settings that do not depend on the machine's speed."""
from hypothesis import HealthCheck, settings

# wall time never decides a test: no per-example deadline
settings.register_profile("dualad", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dualad")
