import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests never open windows

sys.path.insert(0, str(Path(__file__).parent))  # for seed_reference


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_run_left_registered():
    """A run directory registered for signal handling (interrupts.working_on) by one test, e.g. through
    io.sweeps.save_sweep, must not be marked "interrupted" by another test's signal."""
    yield
    from sinefit import interrupts

    interrupts.working_on(None)
