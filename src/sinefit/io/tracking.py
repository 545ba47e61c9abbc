"""Fits and sweeps in MLflow: ``--mlflow [URI]`` logs a finished run directory to a tracking store.

MLflow is an optional extra (``pip install 'sinefit[mlflow]'``); it is imported inside the
functions, so nothing else in sinefit pays for it (``import mlflow`` alone takes ~1.3 s).

Where runs go
    ``--mlflow`` without a URI logs to ``sqlite:///mlflow.db``: a SQLite file in the working
    directory. It is MLflow 3's own default store (``mlflow.store.tracking.DEFAULT_TRACKING_URI``),
    so ``mlflow ui`` started in the same directory shows the runs with no options (MLflow 3.17:
    unless a ``./mlruns`` *file store* with experiments exists there, in which case ``mlflow ui``
    opens that instead; ``mlflow ui --backend-store-uri sqlite:///mlflow.db`` always works).
    A bare path is read as MLflow reads one: ``runs.db`` (``.db``, ``.sqlite``, ``.sqlite3``, or
    an existing file) becomes a SQLite URI, anything else a file store directory. MLflow 3.17
    refuses file stores unless ``MLFLOW_ALLOW_FILE_STORE=true`` (they are in maintenance mode);
    the error says so.

    Artifacts of a new experiment in a SQLite store are kept beside the database, in
    ``<database dir>/mlruns/<experiment>/<run id>/artifacts`` (MLflow's own default is
    ``./mlruns`` of whatever directory the process happens to run in).

What a fit logs (one run, named after the run directory, e.g. ``fit-0003``)
    params     every FitConfig setting (None as "None", the domain as a list), plus
               ``lr_used``, ``momentum_used`` and ``engine_used`` (what ran; ``engine`` is
               the requested setting, e.g. "auto")
    metrics    ``loss`` at every step (step = number of updates, 0 ... steps), sent with
               ``log_batch`` 1000 at a time; non-finite values are skipped and a divergence
               is recorded as the metric ``diverged_at``. Final: final_loss, optimum_loss,
               loss_ratio, r2, rmse, condition_number, stable_lr (non-finite ones skipped)
    tags       status (completed, diverged, interrupted), diverged_at / interrupted_at when
               they apply, sinefit_version, target, formula
    artifacts  the run directory's figures and data: *.png *.svg *.pdf *.gif *.json *.csv
               *.txt *.toml, sub-directories kept (model.json, history.csv, trained.png, ...)

What a sweep logs
    A parent run (named after the sweep directory) with the fixed settings and the swept axes
    (as lists) as params; configurations, diverged, best_final_loss, best_gap and seconds as
    metrics; sweep.csv, sweep.png, config.toml and summary.json as artifacts; and the whole
    table as ``sweep_table.json`` through ``log_table``, which the UI's artifact view shows as
    a sortable table of every configuration. Below it, a nested child run (tag
    ``mlflow.parentRunId``) for each of the ``children`` best configurations only, with its
    swept settings as params and final_loss, gap, diverged (and diverged_at) as metrics, so
    the UI's run table and charts compare the ones worth comparing.

    Why not a child run per configuration: a sweep is cheap to make big (one batched
    computation) while every MLflow run costs a few round trips to the store. Measured here
    (MLflow 3.17.2, SQLite store on local disk): a 1000-configuration sweep computes in 0.03 s
    and its parent run with the table logs in ~0.15 s, but 1000 child runs (create, one
    log_batch, terminate) took 11-12.5 s, ~11 ms each; a 100x100 grid would take ~2 minutes
    (much longer against a remote server) and bury the useful runs among 10 000 rows of the
    run table. The table keeps every configuration in one artifact; the best few get runs of
    their own, which is what the run table and its charts are good at comparing.

    Cost of a fit's loss curve: the SQLite store inserts ~15 000 metric values a second
    (MLflow's ORM, not the network), so a 100 000-step fit logs in ~7 s; one log_batch per
    value (~2.3 ms per log_metric call here) would take ~4 minutes.

Failures
    Any failure of MLflow, the database or the network becomes one :class:`SinefitError` line
    naming the URI (credentials in it masked). For HTTP stores MLflow's retries are turned off
    and its request timeout shortened while sinefit logs (unless the environment already sets
    ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT``), so a missing server
    fails at once instead of after minutes of back-off. The process-wide tracking URI is never
    touched: everything goes through an ``MlflowClient`` bound to the given URI.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InputError, SinefitError

DEFAULT_URI = "sqlite:///mlflow.db"  # MLflow 3's default store: `mlflow ui` in this directory opens it
EXPERIMENT = "sinefit"
MISSING = "--mlflow needs MLflow: pip install 'sinefit[mlflow]'"

ARTIFACT_SUFFIXES = (".png", ".svg", ".pdf", ".gif", ".json", ".csv", ".txt", ".toml")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
PARAMS_PER_BATCH = 100  # MLflow's limit for params (and tags) in one log_batch call
MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}  # unless already set
QUIET_ENV = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # "View run ... at" lines would spoil --json
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: C:\ is a path


# ---------------------------------------------------------------------------- URIs


def resolve_uri(uri: str | None) -> str:
    """The tracking URI for ``--mlflow [URI]``: DEFAULT_URI for None or "", a URI as given, and
    a bare path as a SQLite URI (``*.db``, ``*.sqlite``, ``*.sqlite3`` or an existing file) or
    a file store URI (anything else: a directory, as MLflow reads a bare path)."""
    if uri is None or not str(uri).strip():
        return DEFAULT_URI
    uri = str(uri).strip()
    if _SCHEME.match(uri) or uri == "databricks":
        return uri
    path = Path(uri).expanduser()
    if path.suffix.lower() in SQLITE_SUFFIXES or path.is_file():
        # /abs/x.db -> sqlite:////abs/x.db; C:/x.db -> sqlite:///C:/x.db
        return "sqlite:///" + path.resolve().as_posix()
    return path.resolve().as_uri()


def shown(uri: str) -> str:
    """The URI for messages: every userinfo (user, password, token) and query value masked."""
    from .redact import uri as redacted

    return redacted(uri)


def view_hint(uri: str | None = None) -> str:
    """How to look at the logged runs: the URL of a server, or the `mlflow ui` command."""
    uri = resolve_uri(uri)
    if uri.startswith(("http://", "https://")):
        return shown(uri)
    # explicit even for DEFAULT_URI: a bare `mlflow ui` prefers an existing ./mlruns file store
    return f"mlflow ui --backend-store-uri '{shown(uri)}'"


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite URI (None for an in-memory database or another store)."""
    m = re.match(r"^sqlite(\+\w+)?:///(?P<path>[^?]*)", uri)
    if not m or m["path"] in ("", ":memory:"):
        return None
    return Path(m["path"])


def check_store(uri: str | None) -> None:
    """Before any work: a SQLite store that cannot be written is refused in one line."""
    _check_sqlite_writable(resolve_uri(uri))


def _check_sqlite_writable(uri: str) -> None:
    """Fail fast, in one line, where a SQLite store cannot be written: MLflow itself would retry
    for minutes (an engine retried with backoff, a warning each time) before giving up."""
    db = _sqlite_path(uri)
    if db is None:
        return
    db = db.expanduser()

    def fail(why: str) -> SinefitError:
        return SinefitError(f"MLflow at {shown(uri)}: cannot write the database file {db}: {why}")

    if db.exists():
        if not db.is_file():
            raise fail("not a regular file")
        if not os.access(db, os.R_OK | os.W_OK):
            raise fail("permission denied")
        return
    ancestor = db.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise fail(f"{ancestor} is not a directory")
    if ancestor != db.parent:
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise fail(f"cannot create directories under {ancestor}")
        return  # MLflow makes the missing directories
    try:  # the one sure test: create it (SQLite takes an empty file as a new database)
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return
    except OSError as e:
        raise fail(e.strerror or str(e)) from None
    os.close(fd)
    db.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- MLflow session


class _Session:
    """An MlflowClient bound to one URI, and the experiment the runs go to."""

    def __init__(self, mlflow: Any, client: Any, uri: str):
        self.mlflow = mlflow
        self.client = client
        self.uri = uri
        from mlflow.entities import Metric, Param, RunTag

        self.Metric, self.Param, self.RunTag = Metric, Param, RunTag

    def experiment_id(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            try:
                return self.client.create_experiment(name, artifact_location=self._artifact_location(name))
            except MlflowException:  # created meanwhile by another process?
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            raise SinefitError(
                f"MLflow at {shown(self.uri)}: experiment {name!r} is deleted; restore it "
                f"(mlflow experiments restore --experiment-id {exp.experiment_id}) or choose another"
            )
        return exp.experiment_id

    def _artifact_location(self, name: str) -> str | None:
        db = _sqlite_path(self.uri)
        if db is None:
            return None  # the store's default (a server's, or ./mlruns for other databases)
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"
        return (db.resolve().parent / "mlruns" / folder).as_uri()

    def start(self, experiment_id: str, name: str, tags: dict[str, str]) -> str:
        run = self.client.create_run(experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [self.Param(k, _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=items[i : i + PARAMS_PER_BATCH], synchronous=True)

    def metrics(self, run_id: str, values: dict[str, float | int | None], step: int = 0) -> None:
        now = _now_ms()
        items = [self.Metric(k, float(v), now, step) for k, v in values.items() if _finite(v)]
        for i in range(0, len(items), METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=items[i : i + METRICS_PER_BATCH], synchronous=True)

    def series(self, run_id: str, key: str, values: Any, steps: Any = None) -> int:
        """Log values[i] at step steps[i] (default i; non-finite ones skipped); returns how many were logged."""
        now, batch, count = _now_ms(), [], 0
        for t, v in zip(range(len(values)) if steps is None else (int(s) for s in steps), values):
            v = float(v)
            if not math.isfinite(v):
                continue
            batch.append(self.Metric(key, v, now, t))
            if len(batch) == METRICS_PER_BATCH:
                self.client.log_batch(run_id, metrics=batch, synchronous=True)
                count += len(batch)
                batch = []
        if batch:
            self.client.log_batch(run_id, metrics=batch, synchronous=True)
            count += len(batch)
        return count

    def artifacts(self, run_id: str, folder: Path) -> list[str]:
        """Log the figures and data files under ``folder``; returns their relative paths."""
        logged = []
        for path in _artifact_files(folder):
            rel = path.relative_to(folder)
            parent = rel.parent.as_posix()
            self.client.log_artifact(run_id, str(path), None if parent == "." else parent)
            logged.append(rel.as_posix())
        return logged

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def abandon(self, run_id: str) -> None:
        """Mark a run whose logging failed; best effort (the store may be what failed)."""
        with contextlib.suppress(Exception):
            self.client.set_terminated(run_id, "FAILED")


@contextlib.contextmanager
def _session(uri: str | None) -> Iterator[_Session]:
    """An MLflow client for ``uri``: MLflow imported (or the one-line hint to install it),
    HTTP retries off, MLflow's chatter quiet, and every failure one SinefitError line."""
    resolved = resolve_uri(uri)
    try:
        import mlflow
        from mlflow import MlflowClient
    except ImportError:
        raise SinefitError(MISSING) from None
    _check_sqlite_writable(resolved)
    saved_env = {k: os.environ.get(k) for k in (*HTTP_ENV, *QUIET_ENV)}
    for k, v in HTTP_ENV.items():
        os.environ.setdefault(k, v)
    os.environ.update(QUIET_ENV)
    logger = logging.getLogger("mlflow")
    saved_level = logger.level
    logger.setLevel(logging.WARNING)  # "Creating initial MLflow database tables..." and the like
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):  # stdout is sinefit's
            warnings.filterwarnings("ignore", module=r"(mlflow|sqlalchemy|alembic)(\.|$)")
            try:
                yield _Session(mlflow, MlflowClient(tracking_uri=resolved), resolved)
            except SinefitError:
                raise
            except (KeyboardInterrupt, SystemExit, GeneratorExit):
                raise
            except BaseException as e:  # MlflowException, SQLAlchemy, OSError, requests, ...
                from .redact import in_text

                # --debug shows the cause (a traceback is the user's own screen; a message may go to a log)
                raise SinefitError(f"MLflow at {shown(resolved)}: {in_text(_describe(e), resolved)}") from e
    finally:
        logger.setLevel(saved_level)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _describe(e: BaseException) -> str:
    """One line for a failure: the cause people can act on, not the stack of wrappers."""
    chain, seen = [], set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    names = " ".join(type(x).__name__ for x in chain)
    text = " ".join(str(x) for x in chain)
    if "Connection refused" in text or "ConnectionRefused" in names:
        return "connection refused: no MLflow server listens there (start one with `mlflow server`, or check the URI)"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text:
        return "unknown host: check the URI"
    if "ReadTimeout" in names or "ConnectTimeout" in names or "timed out" in text:
        return f"the server did not answer within {os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT', '?')} s"
    if "filesystem tracking backend" in text and "MLFLOW_ALLOW_FILE_STORE" in text:
        return (
            "this MLflow refuses file stores (maintenance mode); log to a database such as "
            "sqlite:///mlflow.db, or set MLFLOW_ALLOW_FILE_STORE=true"
        )
    if "unable to open database file" in text:
        return "cannot open the database file (is the path a writable file, not a directory?)"
    message = " ".join(str(chain[0]).split()) or type(chain[0]).__name__
    message = re.sub(r"\s*\(Background on this error at: \S+\)", "", message)
    return message if len(message) <= 300 else message[:297] + "..."


# ---------------------------------------------------------------------------- fits


def log_fit(result: Any, run_dir: Path, uri: str | None = None, experiment: str = EXPERIMENT) -> str:
    """Log a fit (its FitResult and its saved run directory) as one MLflow run; returns its id."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    cfg = result.config
    tags = {
        "status": result.status,
        "sinefit_version": __version__,
        "target": str(result.dataset.target),
        "formula": result.formula(8),
    }
    if result.diverged_at is not None:
        tags["diverged_at"] = str(result.diverged_at)
    if getattr(result, "interrupted_at", None) is not None:
        tags["interrupted_at"] = str(result.interrupted_at)
    params = {**cfg.to_dict(), "lr_used": result.lr, "momentum_used": result.momentum, "engine_used": result.engine}
    q, s = result.quadratic, result.statistics
    final = {
        "final_loss": result.final_loss,
        "optimum_loss": result.optimum_loss,
        "loss_ratio": getattr(result.advice, "ratio", None),
        "r2": s.r2,
        "rmse": s.rmse,
        "condition_number": q.condition_number,
        "stable_lr": q.stable_lr,
        "diverged_at": result.diverged_at,
    }
    with _session(uri) as mf:
        exp = mf.experiment_id(experiment)
        run_id = mf.start(exp, run_dir.name, tags)
        try:
            mf.params(run_id, params)
            mf.series(run_id, "loss", result.losses, result.steps)
            mf.metrics(run_id, final, step=result.last_step)
            mf.artifacts(run_id, run_dir)
            mf.finish(run_id, "KILLED" if result.status == "interrupted" else "FINISHED")
        except BaseException:
            mf.abandon(run_id)
            raise
    return run_id


# ---------------------------------------------------------------------------- sweeps


def log_sweep(
    result: Any, run_dir: Path, uri: str | None = None, experiment: str = EXPERIMENT, children: int = 10
) -> str:
    """Log a sweep as a parent run (the table, the heatmap, the summary) with nested child runs
    for its ``children`` best configurations; returns the parent's run id."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such sweep directory")
    if isinstance(children, bool) or not isinstance(children, int) or children < 0:
        raise InputError(f"children: must be a whole number, 0 or more, got {children!r}")
    axes = {k: list(v) for k, v in result.axes.items()}
    fixed = {k: v for k, v in result.base.to_dict().items() if k not in axes}
    rows = result.rows
    best = result.best(children) if children else []
    import numpy as np

    # From the columns: a sweep may hold 10^6 configurations
    bad = result.column("diverged").astype(bool)
    final = np.array(result.column("final_loss"), dtype=np.float64)
    gap = np.array(result.column("gap"), dtype=np.float64)
    settled = ~bad & np.isfinite(final)
    summary = {
        "configurations": len(rows),
        "diverged": int(np.count_nonzero(bad)),
        "best_final_loss": float(final[settled].min()) if settled.any() else None,
        "best_gap": float(gap[settled & np.isfinite(gap)].min()) if (settled & np.isfinite(gap)).any() else None,
        "seconds": result.seconds,
    }
    tags = {
        "sinefit_version": __version__,
        "kind": "sweep",
        "target": str(result.base.target),
        "swept": ",".join(axes),
    }
    with _session(uri) as mf:
        exp = mf.experiment_id(experiment)
        parent = mf.start(exp, run_dir.name, tags)
        try:
            mf.params(parent, {**fixed, **{k: _axis_value(v) for k, v in axes.items()}})
            mf.metrics(parent, summary)
            mf.artifacts(parent, run_dir)
            _log_table(mf, parent, axes, rows)
            for rank, row in enumerate(best, 1):
                _log_child(mf, exp, parent, run_dir.name, rank, row, axes)
            mf.finish(parent)
        except BaseException:
            mf.abandon(parent)
            raise
    return parent


def _log_child(mf: _Session, exp: str, parent: str, parent_name: str, rank: int, row: dict, axes: dict) -> None:
    settings = {k: row[k] for k in axes if k in row}
    name = f"{parent_name} #{rank} " + " ".join(f"{k}={_short(v)}" for k, v in settings.items())
    tags = {"mlflow.parentRunId": parent, "rank": str(rank), "sinefit_version": __version__}
    run_id = mf.start(exp, name.strip(), tags)
    try:
        mf.params(run_id, {**settings, "lr_used": row.get("lr_used")})
        mf.metrics(run_id, {
            "final_loss": row.get("final_loss"),
            "gap": row.get("gap"),
            "diverged": int(bool(row.get("diverged"))),
            "diverged_at": row.get("diverged_at"),
            "rank": rank,
        })  # fmt: skip
        mf.finish(run_id)
    except BaseException:
        mf.abandon(run_id)
        raise


def _log_table(mf: _Session, run_id: str, axes: dict, rows: list[dict]) -> bool:
    """Every configuration as ``sweep_table.json`` (MLflow's table artifact), where the installed
    MLflow has ``log_table`` and pandas; returns whether it was logged."""
    if not hasattr(mf.client, "log_table"):
        return False
    try:
        import pandas  # noqa: F401  (log_table needs it; mlflow-skinny does not bring it)
    except ImportError:
        return False
    names = list(axes) + [k for k in (rows[0] if rows else {}) if k not in axes]
    if hasattr(rows, "lists"):  # a batched sweep's Table: column by column, no row dicts
        import numpy as np

        cols = rows.lists(names, np.arange(len(rows)))
        table = {n: [_cell(v) for v in col] for n, col in zip(names, cols)}
    else:
        table = {n: [_cell(r.get(n)) for r in rows] for n in names}
    mf.client.log_table(run_id, data=table, artifact_file="sweep_table.json")
    return True


# ---------------------------------------------------------------------------- helpers


def _artifact_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in ARTIFACT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)  # temporaries
    )


def _param_value(v: Any) -> str:
    text = str(list(v)) if isinstance(v, tuple) else str(v)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."


def _axis_value(values: list[Any]) -> str:
    """An axis as a param: the list, or its ends and length when too long for MLflow."""
    text = str(values)
    if len(text) <= MAX_PARAM_LENGTH:
        return text
    return f"[{values[0]!r}, {values[1]!r}, ..., {values[-1]!r}] ({len(values)} values)"


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _cell(v: Any) -> Any:
    """A table cell: JSON has no inf or NaN, so they become None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _finite(v: Any) -> bool:
    if v is None:
        return False
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _now_ms() -> int:
    return int(time.time() * 1000)
