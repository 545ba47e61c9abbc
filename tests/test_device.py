"""--device: cuda where a GPU exists (these tests skip without one), a clear error where none does."""

import numpy as np
import pytest
import torch

from sinefit import fit
from sinefit.cli import main
from sinefit.config import ConfigError

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_gpu
@pytest.mark.parametrize("engine", ["per-sample", "stats"])
def test_cuda_fit_equals_cpu_fit(engine):
    settings = dict(dtype="float64", engine=engine, optimizer="adam", lr=0.01, steps=200, basis="legendre")
    cpu, gpu = fit(device="cpu", **settings), fit(device="cuda", **settings)
    np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-9)
    np.testing.assert_allclose(gpu.model.coefficients, cpu.model.coefficients, rtol=1e-9, atol=1e-12)


@needs_gpu
def test_cuda_sweep_runs():
    from sinefit.sweep import sweep

    rows = sweep(lr=[1e-3, 1e-2], optimizer="adam", device="cuda", dtype="float64", steps=50).rows
    assert len(rows) == 2 and all(np.isfinite(r["final_loss"]) for r in rows)


def test_auto_device_always_works():
    assert np.isfinite(fit(device="auto", steps=10).final_loss)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="cuda is not available"):
        fit(device="cuda")
    assert main(["fit", "--device", "cuda", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "--device" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
