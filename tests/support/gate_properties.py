"""What the whole-gate property tests share: test_generalisation.py and the per-class matrices
beside it (codecs, numbers, names, secrets, splitting)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

# A finding below this decides nothing (policies/rego/metagate/data.json).
BLOCKING_SCORE = 0.5

# The same draw on every run, and no shrink phase: known gaps fail on purpose, and shrinking
# one costs seconds (drop `phases` to see a minimal example).
GATE_PROPERTIES = settings(derandomize=True, deadline=None, database=None,
                           phases=[Phase.explicit, Phase.reuse, Phase.generate],
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                  HealthCheck.filter_too_much])
