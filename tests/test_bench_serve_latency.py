"""benchmarks/serve_latency.py runs (--quick: 3 slider moves a scenario, a 2 s animation); no timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("serve_latency smoke test skipped: /usr/bin/chromium is missing", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="serve_latency smoke test skipped: pip install 'sinefit[browser]'")
pytest.importorskip("starlette")

ROOT = Path(__file__).resolve().parents[1]


def test_serve_latency_quick_prints_both_scenarios_and_the_stream():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_latency.py"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(("seed problem", "degree 15"))]
    assert len(rows) == 2, done.stdout
    for row in rows:
        median, p90 = (float(v) for v in row.split()[-4:-2])
        assert 0 < median <= p90  # measured numbers, whatever the machine's load
    assert "frames/s drawn" in done.stdout and "load average:" in done.stdout
