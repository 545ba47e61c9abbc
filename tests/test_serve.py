"""The playground's plain functions (sinefit.serve.core) and its HTTP boundary, without a browser.

Oracles: the library's own ``fit`` and the CLI's ``sinefit fit --json`` (the page must show their
numbers), closed-form stability bounds from the textbook, and the data-file readers on disk.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import shlex
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from sinefit import api, expr  # noqa: E402
from sinefit.cli import main  # noqa: E402
from sinefit.config import ConfigError  # noqa: E402
from sinefit.errors import InputError  # noqa: E402
from sinefit.io import datafiles  # noqa: E402
from sinefit.serve import app as serve_app  # noqa: E402
from sinefit.serve import core, paths, rates, server, uploads  # noqa: E402
from sinefit.serve import stream as serve_stream  # noqa: E402

SETTINGS = [
    {"lr": "2e-6"},  # the seed, with a larger step
    {},  # the seed exactly (float64)
    {"optimizer": "momentum", "lr": "1e-6", "momentum": "0.8", "degree": "4", "steps": "700"},
    {"optimizer": "nesterov", "lr": "auto", "basis": "legendre", "degree": "7", "steps": "300"},
    {"lr": "auto", "degree": "5", "basis": "chebyshev", "target": "tanh(2*x)", "noise": "0.05", "seed": "3"},
    {"optimizer": "adam", "lr": "0.05", "steps": "200", "loss": "mse", "domain": "0,2"},
    {"optimizer": "gd", "lr": "2e-5", "steps": "500"},  # diverges
    {"optimizer": "exact", "degree": "6"},
    {"loss": "huber", "optimizer": "lbfgs", "steps": "20", "lr": "0.5"},
]


def _api_fit(cfg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return api.fit(cfg)


@pytest.mark.parametrize("query", SETTINGS, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items()) or "seed")
def test_endpoint_numbers_equal_library_fit(query):
    cfg, upload = core.settings(query)
    page = core.run(cfg, upload, core.ProblemCache())
    ref = _api_fit(cfg)
    assert page.result.status == ref.status
    assert page.result.diverged_at == ref.diverged_at
    assert page.result.converged_at == ref.converged_at  # the same early stop at the optimum
    assert page.path.end == len(ref.losses) - 1 - (ref.diverged_at is not None)
    np.testing.assert_allclose(page.result.losses, ref.losses, rtol=1e-12, atol=0)
    np.testing.assert_allclose(page.result.model.coefficients, ref.model.coefficients, rtol=1e-12, atol=1e-300)
    assert page.result.final_loss == pytest.approx(ref.final_loss, rel=1e-12)
    # the recorded parameters the page animates are the parameters at those steps
    for t, theta in zip(page.steps, page.thetas):
        if t == cfg.steps and ref.diverged_at is None and cfg.optimizer != "exact":
            np.testing.assert_allclose(theta, ref.model.coefficients, rtol=1e-12, atol=1e-300)
    view = core.view(query)
    assert view["report"]["final_loss"] == pytest.approx(ref.final_loss, rel=1e-12)
    assert view["run"]["converged_at"] == ref.converged_at


def test_some_settings_stop_early_at_the_optimum():
    """The oracle of the test above would pass vacuously if nothing converged early: some do."""
    stopped = [q for q in SETTINGS if core.view(q)["run"]["converged_at"] is not None]
    assert len(stopped) >= 2


@pytest.mark.parametrize("query", [SETTINGS[0], SETTINGS[3]], ids=["gd", "nesterov-auto"])
def test_downloaded_command_reproduces_the_final_loss_in_the_cli(query, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    view = core.view(query)
    argv = shlex.split(view["downloads"]["command"])
    assert argv[:2] == ["sinefit", "fit"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*argv[1:], "--json", "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out)["final_loss"] == pytest.approx(view["report"]["final_loss"], rel=1e-12)


def test_config_toml_refits_the_same_numbers(tmp_path, capsys):
    view = core.view(SETTINGS[2])
    (tmp_path / "config.toml").write_text(view["downloads"]["config_toml"])
    code = main(["fit", "--config", str(tmp_path / "config.toml"), "--json", "--out", str(tmp_path / "runs")])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["final_loss"] == pytest.approx(view["report"]["final_loss"], rel=1e-12)
    model = json.loads(view["downloads"]["model_json"])
    assert model["final_loss"] == pytest.approx(view["report"]["final_loss"], rel=1e-12)


def test_the_problem_is_cached_per_data_basis_degree():
    cache = core.ProblemCache()
    for lr in ("1e-6", "2e-6", "3e-6"):
        core.view({"lr": lr}, cache=cache)
    core.view({"optimizer": "momentum", "momentum": "0.5"}, cache=cache)
    core.view({"seed": "4"}, cache=cache)  # no noise: the data do not depend on the seed
    assert cache.misses == 1
    core.view({"degree": "4"}, cache=cache)
    core.view({"basis": "legendre"}, cache=cache)
    core.view({"noise": "0.1", "seed": "1"}, cache=cache)
    core.view({"noise": "0.1", "seed": "2"}, cache=cache)  # noise is seeded: other data
    assert cache.misses == 5


BAD = [
    ({"lr": "fast"}, "lr", "--lr: must be a number, got 'fast'"),
    ({"lr": "-1"}, "lr", "--lr: must be a positive"),
    ({"lr": "inf"}, "lr", "must be a finite number"),
    ({"degree": "three"}, "degree", "--degree: must be a whole number"),
    ({"target": "__import__('os').system('true')"}, "target", "--target:"),
    ({"target": "x +"}, "target", "--target:"),
    ({"domain": "1,1"}, "domain", "--domain: must be a < b"),
    ({"domain": "pi"}, "domain", "--domain: must be two numbers"),
    ({"samples": "3", "degree": "5"}, "samples", "needs at least 6 samples"),
    ({"momentum": "1", "optimizer": "momentum"}, "momentum", "must be in [0, 1)"),
    ({"optimizer": "sgd"}, "optimizer", "--optimizer: must be one of"),
    ({"basis": "fourier"}, "basis", "--basis: must be one of"),
    ({"lr": "auto", "optimizer": "adam"}, "lr", "--lr: auto is for"),
    ({"noise": "-1"}, "noise", "--noise: must be 0 or more"),
    ({"colour": "red"}, "general", "colour: unknown setting"),
    ({"data": "deadbeef"}, "data", "no longer held by this server"),
]


@pytest.mark.parametrize("query,field,message", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_input_names_its_control_in_one_line(query, field, message):
    with pytest.raises(InputError) as info:
        core.view(query, uploads.Store())
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert core.field_of(info.value) == field


LIMITS = [
    ({"degree": str(core.MAX_DEGREE + 1)}, "degree", f"at most {core.MAX_DEGREE} in the playground"),
    ({"samples": str(core.MAX_SAMPLES + 1)}, "samples", f"at most {core.MAX_SAMPLES} in the playground"),
    ({"steps": str(core.MAX_STEPS + 1)}, "steps", f"at most {core.MAX_STEPS} in the playground"),
    ({"steps": str(core.MAX_STEPS_ITERATIVE + 1), "optimizer": "adam"}, "steps", "takes its steps one by one"),
    ({"target": "x" + "+x" * core.MAX_TARGET_CHARS}, "target", f"at most {core.MAX_TARGET_CHARS} characters"),
]


@pytest.mark.parametrize("query,field,message", LIMITS, ids=[b[1] for b in LIMITS])
def test_limits_are_refused_with_a_clear_message(query, field, message):
    with pytest.raises(ConfigError) as info:
        core.settings(query)
    assert message in str(info.value) and core.field_of(info.value) == field
    # just inside the limit is served
    inside = {k: (str(int(v) - 1) if v.isdigit() else v[: core.MAX_TARGET_CHARS]) for k, v in query.items()}
    if field in ("degree", "samples"):
        core.settings(inside)


def test_upload_is_read_by_the_data_file_reader_with_its_messages(tmp_path):
    x = np.linspace(-1, 2, 50)
    csv = "x,y\n" + "".join(f"{float(a)!r},{float(2 * a * a + 1)!r}\n" for a in x)
    (tmp_path / "points.csv").write_text(csv)
    store = uploads.Store()
    answer = core.upload("points.csv", csv.encode(), store)
    assert answer["n"] == 50
    disk = datafiles.read_points(tmp_path / "points.csv")
    held = store.get(answer["id"])
    np.testing.assert_array_equal(held.x, disk[0])
    np.testing.assert_array_equal(held.y, disk[1])
    view = core.view({"data": answer["id"], "degree": "2", "optimizer": "exact"}, store)
    assert view["report"]["optimum_loss"] < 1e-20  # y = 2x^2 + 1 exactly
    assert view["downloads"]["command"].startswith("sinefit fit --data points.csv")
    # the same bad file on disk and dropped on the page: the same one-line message, with the file's name
    bad = "x,y\n0,1\n1,abc\n"
    (tmp_path / "bad.csv").write_text(bad)
    with pytest.raises(InputError) as on_disk:
        datafiles.read_points(tmp_path / "bad.csv")
    with pytest.raises(InputError) as dropped:
        core.upload("bad.csv", bad.encode(), store)
    assert str(dropped.value) == str(on_disk.value).replace(str(tmp_path / "bad.csv"), "bad.csv")
    assert "line 3" in str(dropped.value)


def test_upload_npy_and_refusals(tmp_path):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.stack([np.arange(10.0), np.arange(10.0) ** 2], 1))
    store = uploads.Store()
    assert core.upload("points.npy", buffer.getvalue(), store)["n"] == 10
    with pytest.raises(uploads.UploadError, match="the playground reads"):
        core.upload("points.exe", b"MZ", store)
    with pytest.raises(uploads.UploadError, match="upload limit"):
        core.upload("big.csv", b"0" * (uploads.MAX_UPLOAD_BYTES + 1), store)
    many = "x,y\n" + "".join(f"{i},{i}\n" for i in range(uploads.MAX_UPLOAD_POINTS + 1))
    with pytest.raises(uploads.UploadError, match="more than 200000 points"):
        core.upload("many.csv", many.encode(), store)
    with pytest.raises(InputError, match="no data rows"):
        core.upload("empty.csv", b"x,y\n", store)
    with pytest.raises(ConfigError, match="3 distinct x values"):
        up = core.upload("three.csv", b"0,0\n1,1\n2,4\n", store)
        core.settings({"data": up["id"], "degree": "3"}, store)


def test_uploads_stay_in_memory(tmp_path, monkeypatch):
    import tempfile

    work, temp = tmp_path / "cwd", tmp_path / "tmp"  # a private temporary directory: the shared /tmp
    work.mkdir()  # changes under other processes' hands
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    core.upload("points.csv", b"0,0\n1,1\n2,4\n3,9\n", uploads.Store())
    assert not list(work.iterdir()) and not list(temp.iterdir())


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9, 0.99])
def test_stable_bounds_match_the_textbook(mu):
    q = core.run(*core.settings({"degree": "4"})).result.quadratic
    lam = q.eigenvalues[0]
    assert rates.stable_lr(q, "gd", None) == pytest.approx(2 / lam, rel=1e-12)
    assert rates.stable_lr(q, "momentum", mu) == pytest.approx(2 * (1 + mu) / lam, rel=1e-9)
    assert rates.stable_lr(q, "nesterov", mu) == pytest.approx(2 * (1 + mu) / ((1 + 2 * mu) * lam), rel=1e-9)
    assert rates.stable_lr(q, "adam", None) is None


@pytest.mark.parametrize("optimizer,mu", [("gd", None), ("momentum", 0.9), ("nesterov", 0.9), ("momentum", 0.3)])
def test_the_bound_on_the_slider_is_true(optimizer, mu):
    """A promise: just below the bound the engine never diverges; just above it the loss blows up."""
    base = {"optimizer": optimizer, "steps": "8000", "degree": "3"}
    if mu is not None:
        base["momentum"] = str(mu)
    bound = core.view(base)["run"]["bound"]
    below = core.view({**base, "lr": repr(bound * 0.98)})["run"]
    above = core.view({**base, "lr": repr(bound * 1.1)})["run"]
    assert below["diverged_at"] is None and not below["diverging"]
    assert below["final_loss"] < below["initial_loss"]
    assert above["diverged_at"] is not None and above["diverging"]


@pytest.mark.parametrize("optimizer,mu", [("gd", None), ("momentum", 0.7), ("nesterov", 0.7)])
def test_each_direction_converges_at_its_predicted_rate(optimizer, mu):
    """The live convergence figure: the measured share of L - L* along each eigen-direction
    shrinks by the predicted factor per step (exactly for gd; asymptotically for momentum)."""
    query = {"optimizer": optimizer, "lr": "3e-6", "steps": "3000", "degree": "2", "basis": "legendre"}
    if mu is not None:
        query["momentum"] = str(mu)
    cfg, _ = core.settings(query)
    r = core.run(cfg, None, core.ProblemCache())
    q = r.result.quadratic
    w = q.scale * q.singular_values**2
    t0, t1 = 1000, 1400
    e = (r.path.at(np.array([t0, t1])) - q.optimum) @ q.directions
    share = w * e**2  # (2, p)
    measured = (share[1] / share[0]) ** (1 / (t1 - t0))
    np.testing.assert_allclose(measured, r.rates, rtol=2e-2 if mu else 1e-9)


def test_two_clients_at_once_see_only_their_own_state():
    queries = [{"lr": "2e-6", "degree": "3"}, {"optimizer": "momentum", "momentum": "0.6", "degree": "5"}]
    alone = [core.view(q)["report"]["final_loss"] for q in queries]
    results: dict[int, list[float]] = {0: [], 1: []}

    def client(i):
        for _ in range(5):
            results[i].append(core.view(queries[i])["report"]["final_loss"])

    threads = [threading.Thread(target=client, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == [alone[0]] * 5 and results[1] == [alone[1]] * 5


def test_hint_suggestions_are_whole_routes_that_keep_their_promise():
    """Each button applies one route of the hint with all its settings, and following it converges."""
    for query in ({"lr": "2e-6"}, {"optimizer": "nesterov", "lr": "6e-6"}, {"degree": "5"}):
        view = core.view(query)
        routes = view["report"]["suggestions"]
        assert routes, view["report"]["hint"]
        for route in routes:
            assert route["label"].split()[::2] == [f"--{k}" for k in route["patch"] if route["patch"][k] != ""
                                                   or k != "lr"]  # fmt: skip
            after = core.view({**query, **route["patch"]})
            assert after["report"]["converged"], (query, route)  # the hint's promise, followed
    labels = [r["label"] for r in core.view({"lr": "2e-6"})["report"]["suggestions"]]
    assert "--basis legendre --lr auto --steps 34" in labels and "--optimizer exact" in labels
    assert not any(label == "--steps 34" for label in labels)  # a route's step count never without its route


def test_host_names():
    assert serve_app.host_allowed("127.0.0.1:8000", 8000)
    assert serve_app.host_allowed("localhost:8000", 8000)
    assert serve_app.host_allowed("[::1]:8000", 8000)
    assert serve_app.host_allowed("192.168.1.5:8000", 8000)
    assert not serve_app.host_allowed("evil.example:8000", 8000)
    assert not serve_app.host_allowed("127.0.0.1.nip.io:8000", 8000)
    assert not serve_app.host_allowed("127.0.0.1:9999", 8000)
    assert not serve_app.host_allowed("127.0.0.1", 8000)


@pytest.fixture(scope="module")
def running():
    handle = server.start("127.0.0.1", 0)
    yield handle
    handle.stop()


def _request(handle, path, method="GET", headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=30)
    conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{handle.port}", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_http_host_and_origin_checks(running):
    status, headers, body = _request(running, "/api/fit")
    assert status == 200 and json.loads(body)["report"]["final_loss"] > 0
    assert headers["x-content-type-options"] == "nosniff"
    status, _, body = _request(running, "/api/fit", headers={"Host": f"evil.example:{running.port}"})
    assert status == 403 and b"evil.example" in body and b"Traceback" not in body
    status, _, body = _request(running, "/", headers={"Origin": "http://evil.example"})
    assert status == 403 and b"evil.example" in body
    for path in ("/api/stream?steps=10", "/api/frames?steps=10"):  # the animation's endpoints too
        assert _request(running, path, headers={"Host": f"evil.example:{running.port}"})[0] == 403
        assert _request(running, path, headers={"Origin": "http://evil.example"})[0] == 403
    status, _, _ = _request(running, "/api/upload?name=a.csv", "POST", {"Origin": "null"}, b"0,0\n1,1\n")
    assert status == 403
    status, _, _ = _request(running, "/api/fit", headers={"Origin": f"http://127.0.0.1:{running.port}"})
    assert status == 200


def test_http_errors_are_one_line_json_and_the_server_keeps_serving(running):
    status, _, body = _request(running, "/api/fit?lr=fast")
    answer = json.loads(body)
    assert status == 400 and answer == {"error": "--lr: must be a number, got 'fast'", "field": "lr"}
    status, _, body = _request(running, "/api/upload?name=bad.csv", "POST", body=b"x,y\n0,1\n1,abc\n")
    assert status == 400 and json.loads(body)["field"] == "data" and "line 3" in json.loads(body)["error"]
    status, _, body = _request(running, "/api/upload?name=big.csv", "POST",
                               {"Content-Length": str(uploads.MAX_UPLOAD_BYTES + 1)}, b"")  # fmt: skip
    assert status == 400 and "upload limit" in json.loads(body)["error"]
    status, _, body = _request(running, "/nothing-here")
    assert status == 404 and b"Traceback" not in body
    status, _, body = _request(running, "/api/fit?degree=2")
    assert status == 200
    status, _, body = _request(running, "/static/vendor/uPlot.LICENSE")
    assert status == 200 and b"MIT" in body


def test_internal_errors_are_one_line_without_a_traceback(running, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(core, "view", broken)
    status, _, body = _request(running, "/api/fit")
    assert status == 500
    assert json.loads(body) == {"error": "internal error: ZeroDivisionError: a bug", "field": "general"}
    monkeypatch.undo()
    assert _request(running, "/api/fit")[0] == 200


def test_cli_serve_prints_the_url_and_warns_off_loopback():
    proc = subprocess.Popen([sys.executable, "-m", "sinefit", "serve", "--port", "0", "--host", "0.0.0.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("sinefit playground: http://0.0.0.0:")
        port = int(line.split(":")[3].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/fit?steps=10")
        assert conn.getresponse().status == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning: --host 0.0.0.0: the playground is reachable from other machines" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_playground_is_its_normal_end(sig):
    """Ctrl-C is how the page says to stop it: a newcomer saw 'error: interrupted (SIGTERM) while starting'
    after minutes of serving."""
    proc = subprocess.Popen([sys.executable, "-m", "sinefit", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().startswith("sinefit playground: http://127.0.0.1:")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out.strip() == f"sinefit playground: stopped ({sig.name})" and not err.strip(), err


def test_cli_serve_bad_port(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port: must be 0 to 65535" in capsys.readouterr().err


# --------------------------------------------------------------------------- the animation's frames

FRAMES = [SETTINGS[0], SETTINGS[2], SETTINGS[3], SETTINGS[5], SETTINGS[6], {"optimizer": "momentum", "lr": "2e-5"}]


@pytest.mark.parametrize("query", FRAMES, ids=["gd", "momentum", "nesterov-auto", "adam", "gd-diverges",
                                               "momentum-diverges"])  # fmt: skip
def test_frames_are_the_library_fit_at_those_steps(query):
    """Every frame of a stream is the parameters and the loss of ``fit`` at its step (the oracle:
    the library's own recorded snapshots and history), and the stream ends on the last finite step."""
    ref = _api_fit(core.settings(query)[0])
    r, steps, control = core.frames({**query, "from": "0", "speed": "7", "client": "t"})
    assert control["speed"] == 7 and control["client"] == "t"
    frames = serve_stream.frames(r.path, r.result.losses, steps)
    end = len(ref.losses) - 1 if ref.diverged_at is None else ref.diverged_at - 1
    assert [f["t"] for f in frames] == [*range(0, end, 7), end] if end % 7 else list(range(0, end + 1, 7))
    np.testing.assert_allclose([f["loss"] for f in frames], ref.losses[[f["t"] for f in frames]], rtol=1e-12)
    on = [t for t in ref.snapshot_steps.tolist() if t <= end]
    np.testing.assert_allclose(r.path.at(np.array(on)), ref.snapshots[: len(on)], rtol=1e-12, atol=1e-300)
    if ref.diverged_at is None:
        np.testing.assert_allclose(frames[-1]["theta"], ref.model.coefficients, rtol=1e-12, atol=1e-300)
    # from a later step, at most `count` frames
    _, later, _ = core.frames({**query, "from": "5", "speed": "3", "count": "4"})
    assert later.tolist() == [5, 8, 11, 14]


@pytest.mark.parametrize("nesterov,lr", [(False, 1e-6), (True, 3e-6), (False, 1.2e-5)], ids=["hb", "nesterov", "diverges"])
def test_the_kept_momentum_path_is_the_engines(nesterov, lr):
    from sinefit import engine

    cfg, _ = core.settings({"degree": "5"})
    q = core.CACHE.problem(cfg, None).quadratic
    theta0 = api.initial_draw(0, 5, __import__("torch").float64)[None].numpy()
    ref = engine.momentum_modes(q, theta0, np.array([lr]), np.array([0.9]), nesterov, 3000, True, frozenset({0, 10, 999}))
    mine = paths.momentum(q, theta0, lr, 0.9, nesterov, 3000)
    np.testing.assert_array_equal(mine.losses, ref.losses[:, 0])
    assert mine.diverged_at == (None if ref.diverged_at[0] < 0 else ref.diverged_at[0])
    np.testing.assert_allclose(mine.theta, ref.theta[0], rtol=1e-13, atol=1e-300)
    for t, theta in ref.snapshots.items():
        np.testing.assert_allclose(mine.path.at(np.array([t]))[0], theta[0], rtol=1e-13, atol=1e-300)


def test_a_stream_is_paced_and_a_newer_one_of_the_same_tab_stops_it():
    import asyncio

    r, steps, _ = core.frames({"steps": "100", "from": "0", "speed": "10"})
    now = [0.0]
    waits: list[float] = []

    async def sleep(s):
        waits.append(s)
        now[0] += s

    async def take(gen, n=None):
        out = []
        async for ev in gen:
            out.append(ev)
            now[0] += 0.004  # the client takes 4 ms a frame
            if n is not None and len(out) == n:
                break
        return out

    streams = serve_stream.Streams()
    token = streams.open("tab")
    events = asyncio.run(take(serve_stream.paced(r.path, r.result.losses, steps, 25, streams, "tab", token,
                                                 clock=lambda: now[0], sleep=sleep)))  # fmt: skip
    assert [json.loads(e.split("data: ")[1])["t"] for e in events[:-1]] == list(range(0, 101, 10))
    assert events[-1].startswith("event: end\n")
    assert waits == pytest.approx([0.04 - 0.004] * 10)  # a fixed schedule: 1/25 s a frame, whatever the client took
    # a newer stream of the same tab retires the older at its next frame; another tab's stream is untouched
    old, other = streams.open("tab"), streams.open("other")

    async def interleaved():
        a = serve_stream.paced(r.path, r.result.losses, steps, 25, streams, "tab", old, clock=lambda: now[0], sleep=sleep)
        b = serve_stream.paced(r.path, r.result.losses, steps, 25, streams, "other", other, clock=lambda: now[0], sleep=sleep)
        first = [await a.__anext__(), await b.__anext__()]
        streams.open("tab")  # the page moved a slider: a newer stream
        rest_a = [e async for e in a]
        rest_b = [e async for e in b]
        return first, rest_a, rest_b

    first, rest_a, rest_b = asyncio.run(interleaved())
    assert len(first) == 2 and rest_a == []  # stopped, no `end`: the page left it
    assert len(rest_b) == 11 and rest_b[-1].startswith("event: end")


def test_stream_controls_are_checked():
    for query, message in (({"speed": "0"}, "--speed: must be 1 to"), ({"from": "x"}, "--from: must be a whole number"),
                           ({"fps": "1000"}, "--fps: must be 1 to 120")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            core.frames(query)
    with pytest.raises(ConfigError, match="--lr"):
        core.frames({"lr": "fast", "speed": "2"})


def test_http_stream_of_frames(running):
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    conn.request("GET", "/api/stream?steps=60&speed=20&fps=120&client=a", headers={"Host": f"127.0.0.1:{running.port}"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
    body = response.read().decode()
    conn.close()
    data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [d["t"] for d in data] == [0, 20, 40, 60, 60]  # the frames, then the end event
    assert "event: end" in body
    status, _, body = _request(running, "/api/frames?steps=60&from=59&count=1")
    frames = json.loads(body)["frames"]
    assert status == 200 and [f["t"] for f in frames] == [59]
    ref = _api_fit(core.settings({"steps": "60"})[0])
    assert frames[0]["loss"] == pytest.approx(ref.losses[59], rel=1e-12)
    status, _, body = _request(running, "/api/stream?speed=0")
    assert status == 400 and json.loads(body) == {"error": "--speed: must be 1 to 1000000000 for a stream, got 0",
                                                  "field": "general"}  # fmt: skip


def test_a_tabs_overtaken_request_is_not_computed(running, monkeypatch):
    """A slider dragged fast: the tab's requests run one at a time, and those overtaken while they
    waited answer 409 at once instead of computing; another tab is not held up by them."""
    import time

    latest = running.server.config.app.latest
    calls: list[str] = []
    release = threading.Event()
    real = core.view

    def held(query, *args, **kwargs):
        calls.append(query.get("lr", ""))
        if query.get("lr") == "1e-6":
            release.wait(30)  # the first request computes until the others have arrived
        return real(query, *args, **kwargs)

    monkeypatch.setattr(core, "view", held)
    statuses: dict[str, int] = {}

    def get(lr, client):
        statuses[lr] = _request(running, f"/api/fit?lr={lr}&client={client}")[0]

    def send(lr, client, then=None):
        before = latest.current(client)
        thread = threading.Thread(target=get, args=(lr, client))
        thread.start()
        deadline = time.monotonic() + 30
        while latest.current(client) == before or (then is not None and not then()):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        return thread

    threads = [send("1e-6", "tab", then=lambda: "1e-6" in calls)]  # computing, and holding the tab's turn
    threads += [send("2e-6", "tab"), send("3e-6", "tab")]  # both wait behind it; 3e-6 overtakes 2e-6
    threads.append(send("4e-6", "other"))
    threads[-1].join()
    assert statuses == {"4e-6": 200}  # another tab is not held up by this one
    release.set()
    for t in threads:
        t.join()
    assert statuses == {"1e-6": 200, "2e-6": 409, "3e-6": 200, "4e-6": 200}
    assert "2e-6" not in calls  # overtaken: never computed


@pytest.mark.parametrize("optimizer,mu,lr", [("momentum", 0.9, 3e-6), ("nesterov", 0.5, 4e-6), ("momentum", 0.99, 1e-5),
                                             ("gd", None, 5e-6), ("nesterov", 0.9, 9e-6)])  # fmt: skip
def test_predicted_rates_are_the_spectral_radius_of_the_engines_step(optimizer, mu, lr):
    """The oracle: each direction's 2x2 map built from the engine's own step (analysis.momentum_mode_step),
    its spectral radius by numpy; the page's rates (stability.growth) must be its square."""
    from sinefit import analysis

    q = core.run(*core.settings({"degree": "4"})).result.quadratic
    lam = q.eigenvalues
    m = mu or 0.0
    e1, b1 = analysis.momentum_mode_step(np.ones_like(lam), np.zeros_like(lam), lam, lr, m, optimizer == "nesterov")
    e2, b2 = analysis.momentum_mode_step(np.zeros_like(lam), np.ones_like(lam), lam, lr, m, optimizer == "nesterov")
    M = np.stack([np.stack([e1, e2], -1), np.stack([b1, b2], -1)], -2)
    radius = np.abs(np.linalg.eigvals(M)).max(-1)
    np.testing.assert_allclose(rates.loss_rates(q, optimizer, lr, mu), radius**2, rtol=1e-7)


def test_connections_the_server_accepts_have_nagle_off():
    """asyncio sets TCP_NODELAY on an accepted socket only when its ``proto`` is IPPROTO_TCP; with Nagle
    on, each answer's second write waited for the client's delayed ACK (~40 ms a request)."""
    import socket

    sock = server.bind("127.0.0.1", 0)
    try:
        sock.setblocking(True)
        client = socket.create_connection(sock.getsockname())
        conn, _ = sock.accept()
        try:
            assert conn.proto == socket.IPPROTO_TCP  # what asyncio's _set_nodelay checks
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            conn.close()
            client.close()
    finally:
        sock.close()


def test_each_hint_suggestion_is_offered_once():
    # the seed's hint names the mapped basis's route in its sentence and again in the settings it promises
    view = core.view({})
    hint, labels = view["report"]["hint"], [s["label"] for s in view["report"]["suggestions"]]
    assert hint.count("--basis legendre") == 2 and hint.count("--lr auto") == 2  # the case this guards
    assert len(labels) == len(set(labels)) == len(hint.split("; "))  # one per route, each once
    assert sum("--basis legendre" in label for label in labels) == 1


def test_hints_reuse_the_lr_free_routes_of_a_cached_problem_exactly():
    # the playground asks for the hint at every slider move on one cached problem: the routes (and lr
    # auto's momentum step) are remembered per surface, data set and start, and must equal a fresh count
    from sinefit import hints

    cache = core.ProblemCache()
    results, texts = {}, {}
    hints._MEMO.clear()
    for seed in ("0", "1"):
        for lr in ("1e-7", "3e-7", "2e-6"):
            for optimizer in ("gd", "momentum"):
                cfg, _ = core.settings({"lr": lr, "seed": seed, "optimizer": optimizer, "degree": "5"})
                results[seed, lr, optimizer] = res = core.run(cfg, None, cache).result
                texts[seed, lr, optimizer] = hints.suggest(res).text  # from the memo after the first
    assert cache.misses == 1  # one problem: every run above shared its surface
    for key, res in results.items():
        hints._MEMO.clear()
        assert hints.suggest(res).text == texts[key], key
    # the start matters (the memo keys on it): the mapped basis's route takes 51 steps from seed 0's, 40 from seed 1's
    assert "about 51 steps" in texts["0", "1e-7", "gd"] and "about 40 steps" in texts["1", "1e-7", "gd"]


def test_an_answer_says_the_servers_own_time_for_the_pages_latency_trace(running):
    # Server-Timing: view = computing the answer, app = the whole handler (thread hop and JSON too)
    status, headers, _ = _request(running, "/api/fit?lr=1e-6&client=timing")
    times = dict(re.fullmatch(r"(\w+);dur=([0-9.]+)", part.strip()).groups() for part in headers["server-timing"].split(","))
    assert status == 200 and set(times) == {"view", "app"}
    assert 0 < float(times["view"]) <= float(times["app"])


def test_the_domain_is_read_once_and_a_bad_one_is_refused_every_time():
    for text in ("-pi", "2*pi", "pi/2", "-1.5e-3"):
        assert core._constant(text) == expr.constant(text, option="--domain")
        assert core._constant(text) == expr.constant(text, option="--domain")  # from the kept ones
    for _ in range(2):
        with pytest.raises(InputError, match="--domain: unknown name 'zz'"):
            core.settings({"domain": "-pi,zz"})
    assert "zz" not in core._CONSTANTS


@pytest.mark.parametrize("basis_", ["power", "legendre", "chebyshev"])
def test_the_math_panel_names_each_coefficient_as_its_model_line_does(basis_):
    """The page wrote 'ŷ = c3 P3(t) + ...' and then listed 'P3 = -1.157': two names for one number."""
    from sinefit.config import FitConfig

    lines = core.math_lines(FitConfig(basis=basis_, degree=3))
    terms = lines["model"].split("=", 1)[1].split(",")[0]
    for name in lines["names"]:
        assert re.search(rf"(^|[\s+]){re.escape(name)}(\s|$)", terms), (name, terms)
    assert all(g.startswith(f"grad_{n} ") for g, n in zip(lines["gradient"][1:], lines["names"]))
