"""Summaries on Dask: a LocalCluster of 2 worker processes (started here on 127.0.0.1, stopped after
the module) over a data set of 24 partitions. Oracle: the single-process pass over the same files."""

import os
import sys

import numpy as np
import pytest

import sinefit
from sinefit import summary
from sinefit.cli import main
from sinefit.io import datafiles

distributed = pytest.importorskip("distributed", reason="Dask is not installed (pip install 'sinefit[dask]')")
from sinefit import cluster  # noqa: E402

PARTITIONS = 24


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as lc, distributed.Client(lc) as c:  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """24 partitions (.npy and Parquet) of y = exp(x/3) + noise on [1, 9]."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("lake")
    rng = np.random.default_rng(2)
    for i in range(PARTITIONS):
        x = rng.uniform(1, 9, 2000 + 37 * i)
        y = np.exp(x / 3) + 0.01 * rng.standard_normal(x.size)
        if i % 2:
            np.save(root / f"part-{i:03d}.npy", np.column_stack([x, y]))
        else:
            pq.write_table(pa.table({"x": x, "y": y}), root / f"part-{i:03d}.parquet")
    return root


def same(a, b, rtol=1e-12):
    """Normwise relative agreement (a tiny coefficient of an ill-conditioned fit carries the others' rounding)."""
    assert np.linalg.norm(np.asarray(a) - b) <= rtol * np.linalg.norm(b), (a, b)


def single_process(root, kind, degree, domain):
    return summary.summarize_chunks(datafiles.iter_chunks(str(root), chunk_rows=1000), kind, degree, domain)


@pytest.mark.parametrize("kind, degree", [("power", 6), ("chebyshev", 9)])
def test_dask_summary_equals_the_single_process_pass(client, lake, kind, degree):
    got = cluster.summarize_dataset(str(lake), basis=kind, degree=degree, client=client, chunk_rows=1000,
                                    split_every=3)  # fmt: skip
    domain = None if kind == "power" else got.domain
    if kind != "power":  # the min/max pass on the workers found the range
        xs = np.concatenate([c[0] for c in datafiles.iter_chunks(str(lake))])
        assert got.domain == (xs.min(), xs.max())
    want = single_process(lake, kind, degree, domain)
    assert got.n == want.n
    theta, sse = got.least_squares()[:2]
    want_theta, want_sse = want.least_squares()[:2]
    same(theta, want_theta)
    assert sse == pytest.approx(want_sse, rel=1e-12)
    r = sinefit.fit(summary=got, optimizer="exact")
    same(r.model.coefficients, want_theta)


class KillOnce(distributed.WorkerPlugin):
    """Test harness: the first worker to start a partition's task dies at once (os._exit), mid-pass."""

    def __init__(self, marker: str):
        self.marker = marker

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        name = key[0] if isinstance(key, tuple) else key
        if finish == "executing" and "partition_summary" in str(name):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(1)


def test_a_worker_killed_mid_pass_is_retried(client, lake, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker)), name="kill-once")
    try:
        got = cluster.summarize_dataset(str(lake), degree=4, client=client)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker really died
    want = single_process(lake, "power", 4, None)
    same(got.least_squares()[0], want.least_squares()[0])
    client.wait_for_workers(2, timeout=60)


def test_a_bad_partition_is_reported_with_its_file_and_row(client, lake, tmp_path, monkeypatch, capsys):
    import shutil

    root = tmp_path / "set"
    shutil.copytree(lake, root)
    (root / "part-999.csv").write_text("x,y\n1.5,2\n2.5,3\n4.0,n/a\n")
    with pytest.raises(datafiles.DataFileError, match=r"part-999.csv: line 4: column 'y': 'n/a' is not a number"):
        cluster.summarize_dataset(str(root), client=client)
    # The CLI, with the address of the running scheduler: one line, exit code 2.
    code = main(["fit", "--data", str(root), "--dask", client.scheduler.address, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"{root / 'part-999.csv'}: line 4" in err


def test_cli_fits_on_dask(client, lake, tmp_path, capsys):
    """Oracle: the single-process fit of the same data set (README: sinefit fit --data DIR --dask ADDRESS)."""
    code = main(["fit", "--data", str(lake), "--dask", client.scheduler.address, "--degree", "5", "--optimizer",
                 "exact", "--quiet", "--out", str(tmp_path / "runs")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs").iterdir()
    want = sinefit.fit(data=str(lake), degree=5, dtype="float64", optimizer="exact")
    np.testing.assert_allclose(sinefit.load(run_dir / "model.json").coefficients, want.model.coefficients, rtol=1e-10)


def test_cli_bare_dask_starts_and_stops_a_local_cluster(lake, tmp_path, capsys, monkeypatch):
    """README: sinefit fit --data DIR --dask (one worker here, to spare CI). Oracle: the single-process fit."""
    from sinefit import streaming

    monkeypatch.setattr(streaming, "workers", lambda: 1)
    code = main(["fit", "--data", str(lake), "--dask", "--optimizer", "exact", "--quiet", "--out",
                 str(tmp_path / "runs")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs").iterdir()
    want = sinefit.fit(data=str(lake), dtype="float64", optimizer="exact")
    np.testing.assert_allclose(sinefit.load(run_dir / "model.json").coefficients, want.model.coefficients, rtol=1e-10)


def test_the_per_partition_function_imports_no_torch():
    """Dask and Spark workers run summarize_chunks with numpy and pyarrow alone (cluster.py's promise)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from sinefit import summary; "
            "s = summary.summarize_chunks([(np.linspace(-1, 1, 50), np.sin(np.linspace(-1, 1, 50)))], basis='legendre', "
            "degree=3, domain=(-1.0, 1.0)); print('torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
