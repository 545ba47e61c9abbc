"""MLflow tracking: fits and sweeps logged to real stores and read back with MlflowClient.

MLflow is an optional extra: without it this module is skipped (CI installs the extra).
One SQLite store serves the whole module: creating one costs a second or more.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # tests do not report usage anywhere
mlflow = pytest.importorskip("mlflow")

import sinefit
from sinefit.cli import main
from sinefit.errors import SinefitError
from sinefit.io import tracking
from sinefit.io import rundata
from sinefit.io.sweeps import save_sweep
from sinefit.sweep import sweep

MlflowClient = mlflow.MlflowClient


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"


def _fit_dir(root: Path, *args: str) -> Path:
    main(["fit", "--out", str(root), "-q", "--steps", "300", *args])
    (run_dir,) = sorted(root.glob("fit-*"))
    return run_dir


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    run_dir = _fit_dir(tmp_path_factory.mktemp("runs"))
    return sinefit.fit(steps=300), run_dir


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_dir = _fit_dir(tmp_path_factory.mktemp("runs"), "--lr", "1e-4")
        result = sinefit.fit(steps=300, lr=1e-4)
    assert result.status == "diverged"
    return result, run_dir


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def test_fit_is_logged_and_reads_back(fitted, store, tmp_path):
    result, run_dir = fitted
    run_id = tracking.log_fit(result, run_dir, store)
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)

    assert run.info.run_name == run_dir.name
    assert run.info.status == "FINISHED"
    expected = {k: str(v) for k, v in result.config.to_dict().items()}
    expected |= {"lr_used": str(result.lr), "momentum_used": str(result.momentum), "engine_used": result.engine}
    assert run.data.params == expected

    history = client.get_metric_history(run_id, "loss")
    saved = rundata.load(run_dir).losses
    assert len(history) == len(saved) == result.config.steps + 1
    assert sorted(m.step for m in history) == list(range(len(saved)))
    for m in history:
        assert _rel(m.value, saved[m.step]) < 1e-12

    metrics = run.data.metrics
    assert _rel(metrics["final_loss"], result.final_loss) < 1e-12
    assert _rel(metrics["optimum_loss"], result.optimum_loss) < 1e-12
    for key in ("loss_ratio", "r2", "rmse", "condition_number", "stable_lr"):
        assert math.isfinite(metrics[key])
    assert "diverged_at" not in metrics

    tags = run.data.tags
    assert tags["status"] == "completed"
    assert tags["sinefit_version"] == sinefit.__version__
    assert tags["target"] == result.dataset.target
    assert "diverged_at" not in tags

    listed = {a.path for a in client.list_artifacts(run_id)}
    assert {"model.json", "history.csv", "trained.png", "initial.png", "config.toml", "summary.json"} <= listed
    local = client.download_artifacts(run_id, "model.json", str(tmp_path))
    assert sinefit.load(local).as_dict() == pytest.approx(result.coefficients.as_dict(), rel=1e-12)


def test_logging_leaves_global_state_and_cwd_alone(fitted, store, tmp_path, monkeypatch):
    result, run_dir = fitted
    monkeypatch.chdir(tmp_path)  # MLflow's defaults would create ./mlruns or ./mlflow.db here
    for k in tracking.HTTP_ENV:
        monkeypatch.delenv(k, raising=False)
    before_uri, before_set = mlflow.get_tracking_uri(), mlflow.tracking._tracking_service.utils.is_tracking_uri_set()
    tracking.log_fit(result, run_dir, store, experiment="elsewhere")
    assert mlflow.get_tracking_uri() == before_uri
    assert mlflow.tracking._tracking_service.utils.is_tracking_uri_set() == before_set
    assert not any(k in os.environ for k in tracking.HTTP_ENV)
    assert list(tmp_path.iterdir()) == []
    # the artifacts sit beside the database, not in the working directory
    exp = MlflowClient(tracking_uri=store).get_experiment_by_name("elsewhere")
    assert exp.artifact_location.startswith(Path(store.removeprefix("sqlite:///")).parent.as_uri())


def test_diverged_fit(diverged, store):
    result, run_dir = diverged
    run_id = tracking.log_fit(result, run_dir, store)
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.data.tags["status"] == "diverged"
    assert run.data.tags["diverged_at"] == str(result.diverged_at)
    assert run.data.metrics["diverged_at"] == result.diverged_at

    finite = np.flatnonzero(np.isfinite(result.losses))
    assert len(finite) < len(result.losses)  # the fixture really has a non-finite loss
    history = client.get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == finite.tolist()
    assert all(math.isfinite(m.value) for m in history)
    assert _rel(run.data.metrics["final_loss"], result.final_loss) < 1e-12


def test_sweep_parent_and_best_children(tmp_path, store):
    result = sweep(lr=[1e-7, 1e-6, 3e-6, 1e-5, 1e-3], seed=[0, 1], dtype="float64", steps=200)
    run_dir = save_sweep(result, tmp_path / "runs", top=5, curves=result.best_curves())
    parent_id = tracking.log_sweep(result, run_dir, store, experiment="sweeps", children=4)
    client = MlflowClient(tracking_uri=store)
    parent = client.get_run(parent_id)

    assert parent.info.run_name == run_dir.name
    assert parent.data.params["lr"] == str([1e-7, 1e-6, 3e-6, 1e-5, 1e-3])
    assert parent.data.params["seed"] == "[0, 1]"
    assert parent.data.params["dtype"] == "float64" and parent.data.params["steps"] == "200"
    assert parent.data.metrics["configurations"] == 10
    assert parent.data.metrics["diverged"] == sum(r["diverged"] for r in result.rows)
    best = result.best(4)
    assert _rel(parent.data.metrics["best_final_loss"], best[0]["final_loss"]) < 1e-12
    listed = {a.path for a in client.list_artifacts(parent_id)}
    assert {"sweep.csv", "sweep.png", "config.toml", "summary.json", "sweep_table.json"} <= listed

    table = json.loads(Path(client.download_artifacts(parent_id, "sweep_table.json", str(tmp_path))).read_text())
    assert len(table["data"]) == 10 and {"lr", "seed", "final_loss", "gap"} <= set(table["columns"])

    exp = parent.info.experiment_id
    kids = client.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    assert len(kids) == 4
    kids.sort(key=lambda r: r.data.metrics["rank"])
    for kid, row in zip(kids, best):
        assert kid.data.params["lr"] == str(row["lr"]) and kid.data.params["seed"] == str(row["seed"])
        assert _rel(kid.data.metrics["final_loss"], row["final_loss"]) < 1e-12
        assert _rel(kid.data.metrics["gap"], row["gap"]) < 1e-12
        assert kid.data.metrics["diverged"] == 0
        assert kid.info.status == "FINISHED"

    none = tracking.log_sweep(result, run_dir, store, experiment="sweeps", children=0)
    assert client.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{none}'") == []


def test_missing_server_fails_fast(fitted):
    result, run_dir = fitted
    uri = "http://127.0.0.1:9"  # the discard port: connections are refused
    start = time.perf_counter()
    with pytest.raises(SinefitError) as e:
        tracking.log_fit(result, run_dir, uri)
    assert time.perf_counter() - start < 10
    message = str(e.value)
    assert uri in message and "\n" not in message and "refused" in message
    assert e.value.exit_code == 1


def test_file_store(fitted, tmp_path, monkeypatch):
    try:
        import mlflow.store.tracking.file_store  # noqa: F401
    except ImportError:
        pytest.skip("this MLflow has no file store any more")
    result, run_dir = fitted
    uri = f"file:{tmp_path}/mlruns"
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    try:
        tracking.log_fit(result, run_dir, uri)
    except SinefitError as e:  # MLflow 3.x keeps file stores behind an opt-in: say how
        assert uri in str(e) and "MLFLOW_ALLOW_FILE_STORE" in str(e) and "\n" not in str(e)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_id = tracking.log_fit(result, run_dir, uri)
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.tags["status"] == "completed"
    assert _rel(run.data.metrics["final_loss"], result.final_loss) < 1e-12
    assert "model.json" in {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)}


def test_resolve_uri(tmp_path):
    from mlflow.store.tracking import DEFAULT_TRACKING_URI

    assert tracking.DEFAULT_URI == DEFAULT_TRACKING_URI  # what `mlflow ui` opens without options
    assert tracking.resolve_uri(None) == tracking.resolve_uri("") == tracking.DEFAULT_URI
    for uri in ("sqlite:///mlflow.db", "http://127.0.0.1:5000", "file:///tmp/mlruns", "databricks"):
        assert tracking.resolve_uri(uri) == uri
    assert tracking.resolve_uri(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    assert tracking.resolve_uri(str(tmp_path)) == tmp_path.resolve().as_uri()
    assert tracking.shown("http://me:secret@host:5000") == "http://***@host:5000"  # every userinfo masked (issue 10)
    assert tracking.view_hint(None) == "mlflow ui --backend-store-uri 'sqlite:///mlflow.db'"
    assert tracking.view_hint("http://me:secret@host:5000") == "http://***@host:5000"


def test_without_mlflow_installed(fitted, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)  # import mlflow raises ImportError
    with pytest.raises(SinefitError, match=r"pip install 'sinefit\[mlflow\]'"):
        tracking.log_fit(*fitted, "sqlite:///never.db")


def test_cli_fit_and_sweep_log_to_mlflow(tmp_path, capsys, monkeypatch):
    """`--mlflow URI` on fit and sweep: the run ids come back in --json and read back from the store."""
    from mlflow.tracking import MlflowClient

    from sinefit.cli import main

    uri = f"sqlite:///{tmp_path}/cli.db"
    assert main(["fit", "--out", str(tmp_path / "runs"), "--steps", "50", "--json", "--mlflow", uri]) == 0
    fit_doc = json.loads(capsys.readouterr().out)
    assert main(["sweep", "--out", str(tmp_path / "runs"), "--lr", "1e-7:1e-5:4", "--steps", "50", "--top", "2",
                 "--json", "--mlflow", uri]) == 0  # fmt: skip
    sweep_doc = json.loads(capsys.readouterr().out)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(fit_doc["mlflow_run_id"])
    assert run.data.params["steps"] == "50" and run.data.tags["status"] == "completed"
    parent = client.get_run(sweep_doc["mlflow_run_id"])
    assert parent.data.metrics["configurations"] == 4

    # A bare --mlflow logs to ./mlflow.db, the file `mlflow ui` opens.
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--out", str(tmp_path / "runs"), "--steps", "10", "-q", "--mlflow"]) == 0
    assert (tmp_path / "mlflow.db").exists()
