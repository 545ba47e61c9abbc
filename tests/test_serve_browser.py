"""The playground end to end in a real browser: Playwright driving Debian's Chromium.

The server runs on 127.0.0.1 (a free port) for this module and is stopped after it. Where
Chromium or Playwright is missing (not root, no apt: `make test` installs them otherwise),
these tests skip with one line saying so.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import warnings
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests skipped: {CHROMIUM} is missing (make test installs it as root with apt-get)",
                allow_module_level=True)  # fmt: skip
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: pip install 'sinefit[browser]'")
pytest.importorskip("starlette")

from sinefit.cli import main  # noqa: E402
from sinefit.serve import core, server  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DOCS = Path(__file__).parent.parent / "docs"


@pytest.fixture(scope="module")
def running():
    handle = server.start("127.0.0.1", 0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_page(page, running, **query):
    page.goto(running.url + ("?" + urlencode(query) if query else ""))
    wait_ready(page)


def wait_ready(page, timeout=60_000):
    page.wait_for_function("() => window.sinefit && window.sinefit.state.view !== null", timeout=timeout)


def wait_answer(page, before_seq, timeout=60_000):
    """Wait until the answer to a request made after ``before_seq`` has been drawn (or refused)."""
    page.wait_for_function("(seq) => { const s = window.sinefit.state; return s.seq > seq && s.lastSeqDrawn === s.seq; }",
                           arg=before_seq, timeout=timeout)  # fmt: skip


def seq(page) -> int:
    return page.evaluate("() => window.sinefit.state.seq")


def set_slider(page, selector, value):
    before = seq(page)
    page.eval_on_selector(selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
                          str(value))  # fmt: skip
    wait_answer(page, before)


def view(page):
    return page.evaluate("() => window.sinefit.state.view")


def test_lr_slider_across_the_stable_bound_marks_divergence(page, running):
    open_page(page, running)
    bound = float(page.get_attribute("#bound-mark", "data-bound"))
    assert bound == pytest.approx(view(page)["problem"]["stable_lr_gd"], rel=1e-12)
    assert page.is_visible("#bound-mark")
    set_slider(page, "#lr-slider", math.log10(bound * 0.9))
    assert page.get_attribute("#status", "data-diverging") == "0"
    assert page.is_hidden("#divergence")
    set_slider(page, "#lr-slider", math.log10(bound * 1.3))
    assert page.get_attribute("#status", "data-diverging") == "1"
    assert page.is_visible("#divergence")
    assert "diverg" in page.inner_text("#status")
    v = view(page)
    assert v["run"]["lr"] > bound and v["run"]["diverged_at"] is not None
    assert f"diverged at step {v['run']['diverged_at']}" in page.inner_text("#status")


def test_play_pause_step_reset(page, running):
    open_page(page, running, steps="3000")
    step = lambda: int(page.get_attribute("#step-label", "data-step"))  # noqa: E731
    assert step() == 3000  # a new answer shows the end of the run
    page.click("#reset")
    assert step() == 0
    page.click("#step")
    assert step() == 1
    page.click("#step")
    assert step() == 2
    page.click("#play")  # the stream of frames: a steady 30 a second from the step shown, 10 steps a frame
    page.wait_for_function("() => +document.getElementById('step-label').dataset.step > 300")
    page.click("#pause")
    paused = step()
    page.click("#step")  # beyond the record sent with the answer: this step's frame comes from the server
    page.wait_for_function("(t) => +document.getElementById('step-label').dataset.step === t + 1", arg=paused)
    t = step()
    shown = page.evaluate("() => window.sinefit.state.cursor")
    cfg, _ = core.settings({"steps": "3000"})
    ref = core.run(cfg)
    assert shown["theta"] == pytest.approx(list(ref.path.at(np.array([t]))[0]), rel=1e-14)
    assert shown["loss"] == pytest.approx(ref.result.losses[t], rel=1e-14)
    page.click("#reset")
    page.select_option("#speed", "10")
    page.click("#play")
    page.wait_for_function("() => +document.getElementById('step-label').dataset.step > 40")
    page.click("#pause")
    paused = step()
    page.wait_for_timeout(300)
    assert step() == paused and 40 < paused < 3000
    # the curve drawn at step 0 after a reset is the initial draw of the seed, every time
    page.click("#reset")
    first = page.evaluate("() => window.sinefit.curve()")
    initial = page.evaluate("() => window.sinefit.state.view.run.thetas[0]")
    assert initial == pytest.approx(list(ref.result.initial.coefficients), rel=1e-15)
    page.select_option("#speed", "1000")
    page.click("#play")
    page.wait_for_function("() => document.body.dataset.playing === '0'", timeout=60_000)  # plays to the end
    assert step() == 3000
    frames = page.evaluate("() => window.sinefit.state.framesDrawn")
    assert frames >= 3
    page.click("#reset")
    assert page.evaluate("() => window.sinefit.curve()") == first


def test_a_slider_move_while_playing_streams_the_new_settings_on(page, running):
    """Playing, a newer answer cancels the older stream: the animation goes on from the same step
    with the new settings' frames, and no frame of the old settings is drawn after it."""
    open_page(page, running, optimizer="momentum", momentum="0.9", lr="1e-6", steps="20000")
    page.click("#reset")
    page.click("#play")
    page.wait_for_function("() => window.sinefit.state.cursor.t > 100")
    page.evaluate("""() => { window.drawn = []; window.sinefit.onFrame = (f, v) => window.drawn.push([f.t, f.loss, v.query.lr]); }""")
    set_slider(page, "#lr-slider", math.log10(2e-6))
    lr = view(page)["query"]["lr"]
    at_answer = page.evaluate("() => window.sinefit.state.cursor.t")
    assert 100 < at_answer < 20000 and page.evaluate("() => window.sinefit.state.playing")
    page.wait_for_function("(t) => window.sinefit.state.cursor.t > t + 100", arg=at_answer)
    page.click("#pause")
    shown = page.evaluate("() => window.sinefit.state.cursor")
    new = core.run(core.settings({"optimizer": "momentum", "momentum": "0.9", "lr": lr, "steps": "20000"})[0])
    assert shown["theta"] == pytest.approx(list(new.path.at(np.array([shown["t"]]))[0]), rel=1e-13)
    # every frame drawn since the answer is the new run's (none of the old stream's slipped through)
    after = [(t, loss) for t, loss, shown_lr in page.evaluate("() => window.drawn") if shown_lr == lr]
    ts = [t for t, _ in after]
    assert len(ts) >= 5 and 100 < ts[0] <= at_answer and all(0 < b - a and (b - a) % 10 == 0 for a, b in zip(ts, ts[1:]))
    assert [loss for _, loss in after] == pytest.approx([new.result.losses[t] for t, _ in after], rel=1e-13)


def test_switching_optimizer_moves_the_bound(page, running):
    open_page(page, running)
    gd = float(page.get_attribute("#bound-mark", "data-bound"))
    x_gd = page.eval_on_selector("#bound-mark", "el => el.getBoundingClientRect().left")
    before = seq(page)
    page.select_option("#optimizer", "momentum")
    wait_answer(page, before)
    momentum = float(page.get_attribute("#bound-mark", "data-bound"))
    assert momentum == pytest.approx(gd * (1 + 0.9), rel=1e-9)  # 2 (1 + mu) / lambda_max
    assert page.is_visible("#row-momentum")
    before = seq(page)
    page.check("#lr-auto")  # auto picks the textbook pair: the step and the momentum
    wait_answer(page, before)
    v = view(page)
    assert v["query"]["lr"] == "auto" and v["query"]["momentum"] == ""
    root = math.sqrt(v["problem"]["condition"])
    assert v["run"]["momentum"] == pytest.approx(((root - 1) / (root + 1)) ** 2, rel=1e-9)  # heavy ball's textbook mu
    assert page.input_value("#momentum") == str(float(f"{v['run']['momentum']:.3g}"))
    assert not v["run"]["diverging"]
    before = seq(page)
    page.uncheck("#lr-auto")
    wait_answer(page, before)
    before = seq(page)
    page.select_option("#optimizer", "nesterov")
    wait_answer(page, before)
    nesterov = float(page.get_attribute("#bound-mark", "data-bound"))
    assert nesterov == pytest.approx(gd * 1.9 / 2.8, rel=1e-9)
    x_nesterov = page.eval_on_selector("#bound-mark", "el => el.getBoundingClientRect().left")
    assert x_nesterov != x_gd
    before = seq(page)
    page.select_option("#optimizer", "adam")
    wait_answer(page, before)
    assert page.is_hidden("#bound-mark")  # no such bound for Adam, and none is drawn


def test_upload_a_csv_and_a_bad_csv(page, running, tmp_path):
    good = tmp_path / "parabola.csv"
    good.write_text("x,y\n" + "".join(f"{x / 10},{2 * (x / 10) ** 2 + 1}\n" for x in range(-20, 21)))
    open_page(page, running, degree="2", optimizer="exact")
    before = seq(page)
    page.set_input_files("#file", str(good))
    wait_answer(page, before)
    assert "parabola.csv" in page.inner_text("#fit-legend") and "41 points" in page.inner_text("#fit-legend")
    v = view(page)
    assert v["report"]["optimum_loss"] < 1e-20
    assert page.is_disabled("#target")
    assert "--data parabola.csv" in page.inner_text("#command")
    bad = tmp_path / "broken.csv"
    bad.write_text("x,y\n0,1\n1,abc\n")
    page.set_input_files("#file", str(bad))
    page.wait_for_function("() => document.getElementById('err-data').textContent.length > 0")
    assert page.inner_text("#err-data") == "broken.csv: line 3: column 'y': 'abc' is not a number"
    assert "parabola.csv" in page.inner_text("#fit-legend")  # the last good view stays


def test_bad_input_shows_the_error_beside_its_control(page, running):
    open_page(page, running)
    page.fill("#lr", "fast")
    page.press("#lr", "Enter")
    page.wait_for_function("() => document.getElementById('err-lr').textContent.length > 0")
    assert page.inner_text("#err-lr") == "--lr: must be a number, got 'fast'"
    page.fill("#degree", "50")
    page.press("#degree", "Enter")
    page.wait_for_function("() => document.getElementById('err-degree').textContent.length > 0")
    assert "at most 20 in the playground" in page.inner_text("#err-degree")
    for field, good in (("#degree", "3"), ("#lr", "1e-6")):  # one error at a time: put these right
        page.fill(field, good)
        page.press(field, "Enter")
    page.wait_for_function("() => document.body.dataset.error === undefined")
    page.fill("#target", "__import__('os')")
    page.press("#target", "Enter")
    page.wait_for_function("() => document.getElementById('err-target').textContent.length > 0")
    assert page.inner_text("#err-target").startswith("--target: unknown function '__import__'")


def test_a_shared_url_restores_the_same_curve(page, running, browser):
    open_page(page, running, degree="5", basis="legendre", optimizer="momentum", momentum="0.7", seed="7",
              target="tanh(2*x)", noise="0.05", steps="900")  # fmt: skip
    set_slider(page, "#lr-slider", -1.3)
    url, curve, k = page.url, page.evaluate("() => window.sinefit.curve()"), view(page)["run"]["final_loss"]
    assert "lr=" in url and "seed=7" in url
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(url)
    wait_ready(other)
    assert other.evaluate("() => window.sinefit.curve()") == curve
    assert other.evaluate("() => window.sinefit.state.view.run.final_loss") == k
    assert other.input_value("#seed") == "7" and other.input_value("#degree") == "5"
    other.context.close()


def test_the_downloaded_command_reproduces_the_final_loss_in_the_cli(page, running, tmp_path, capsys, monkeypatch):
    open_page(page, running, degree="4", optimizer="nesterov", momentum="0.8", steps="1500")
    set_slider(page, "#lr-slider", math.log10(view(page)["run"]["bound"] * 0.5))
    shown = float(page.get_attribute("#final-loss", "data-value"))
    with page.expect_download() as info:
        page.click("#dl-command")
    command = Path(info.value.path()).read_text().strip()
    argv = shlex.split(command)
    assert argv[:2] == ["sinefit", "fit"]
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*argv[1:], "--json", "--out", str(tmp_path / "runs")])  # the CLI, in this process
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["final_loss"] == pytest.approx(shown, rel=1e-12)
    with page.expect_download() as info:
        page.click("#dl-model")
    assert json.loads(Path(info.value.path()).read_text())["final_loss"] == pytest.approx(shown, rel=1e-12)
    with page.expect_download() as info:
        page.click("#dl-png")
    assert Path(info.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_tabs_at_once(browser, running):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    a, b = context.new_page(), context.new_page()
    a.goto(running.url + "?degree=3")
    b.goto(running.url + "?degree=6&optimizer=momentum&momentum=0.5&basis=chebyshev")
    wait_ready(a)
    wait_ready(b)
    for value_a, value_b in ((-5.5, -3.0), (-5.8, -2.5), (-5.3, -2.8)):  # interleaved slider moves
        sa, sb = seq(a), seq(b)
        for p, sel, v in ((a, "#lr-slider", value_a), (b, "#lr-slider", value_b)):
            p.eval_on_selector(sel, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(v))
        wait_answer(a, sa)
        wait_answer(b, sb)
    for p in (a, b):
        v = p.evaluate("() => window.sinefit.state.view")
        alone = core.view(v["query"])
        assert v["report"]["final_loss"] == alone["report"]["final_loss"]
        assert p.evaluate("() => new URLSearchParams(location.search).get('lr')") == v["query"]["lr"]
    assert a.evaluate("() => window.sinefit.state.view.problem.p") == 4
    assert b.evaluate("() => window.sinefit.state.view.problem.p") == 7
    # both tabs play at once: each draws its own run's frames (each tab's stream is its own)
    for p in (a, b):
        p.click("#reset")
        p.click("#play")
    for p in (a, b):
        p.wait_for_function("() => window.sinefit.state.cursor.t > 50")
        p.click("#pause")
        v, c = p.evaluate("() => [window.sinefit.state.view.query, window.sinefit.state.cursor]")
        own = core.run(core.settings(v)[0])
        assert c["theta"] == pytest.approx(list(own.path.at(np.array([c["t"]]))[0]), rel=1e-13)
    context.close()


SHOTS = [
    ("seed", {}, None),
    ("diverging", {"lr": "9e-6"}, None),
    ("momentum-degree-7-legendre", {"degree": "7", "basis": "legendre", "optimizer": "momentum", "lr": "auto",
                                    "target": "tanh(3*x)", "noise": "0.05", "steps": "400"}, None),  # fmt: skip
    ("playing", {"optimizer": "momentum", "momentum": "0.9", "lr": "2e-6", "steps": "800"}, "play"),
    ("error", {}, "error"),
]


@pytest.mark.parametrize("name,query,action", SHOTS, ids=[s[0] for s in SHOTS])
def test_screenshots(page, running, tmp_path, name, query, action):
    """Pictures of the page to look at (kept in $SINEFIT_SCREENSHOTS, else in the test's tmp dir)."""
    open_page(page, running, **query)
    if action == "play":
        page.click("#reset")
        page.click("#play")
        page.wait_for_function("() => +document.getElementById('step-label').dataset.step > 30")
        page.click("#pause")
    elif action == "error":
        page.fill("#target", "sin(x")
        page.press("#target", "Enter")
        page.wait_for_function("() => document.getElementById('err-target').textContent.length > 0")
    if name == "momentum-degree-7-legendre":  # lr auto reaches the optimum early: the page stops there, as fit does
        k = core.view(query)["run"]["converged_at"]
        assert k is not None and page.get_attribute("#status", "data-converged") == str(k)
        assert f"converged at step {k}" in page.inner_text("#status")
        assert page.get_attribute("#step-label", "data-step") == str(k)
    out = Path(os.environ.get("SINEFIT_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"playground-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000
    # nothing overlaps: the panels' boxes are disjoint, and each chart fits inside its panel
    boxes = page.evaluate("""() => [...document.querySelectorAll('.panel')].map(p => {
        const r = p.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    for i, (l1, t1, r1, b1) in enumerate(boxes):
        for l2, t2, r2, b2 in boxes[i + 1 :]:
            assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1
    overflow = page.evaluate("""() => [...document.querySelectorAll('.panel')].filter(p => p.scrollWidth > p.clientWidth + 1)
        .map(p => p.id)""")
    assert overflow == []


def test_a_fast_slider_sends_its_newest_move_once_the_answer_on_its_way_lands(page, running):
    # five moves at once: the first is sent, the next four wait for its answer, and only the newest of them
    # is sent then (cancelling at each move would show nothing until the hand stops); the page ends on it
    open_page(page, running)
    sent, failed = [], []
    page.on("request", lambda r: sent.append(r.url) if "/api/fit" in r.url else None)
    page.on("requestfailed", lambda r: failed.append(r.url))
    before = seq(page)
    values = [-6.2, -6.1, -6.0, -5.9, -5.8]
    page.eval_on_selector("#lr-slider", """(el, values) => { for (const v of values) {
        el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); } }""", [str(v) for v in values])
    wait_answer(page, before)
    page.wait_for_timeout(300)  # nothing more goes out
    lrs = [float(dict(p.split("=") for p in u.split("?")[1].split("&"))["lr"]) for u in sent]
    assert lrs == [pytest.approx(10**values[0], rel=1e-2), pytest.approx(10**values[-1], rel=1e-2)] and not failed
    assert view(page)["run"]["lr"] == pytest.approx(10**values[-1], rel=1e-2)
    assert page.evaluate("() => window.sinefit.latencies().length") == 2  # each sent move traced to its paint


def test_a_hint_route_is_applied_whole_with_one_click_and_keeps_its_promise(page, running):
    """The hint's buttons: one per route, each setting everything its route needs; clicking the mapped
    basis's route sets basis, lr and steps at once, and the fit it draws is at the optimum."""
    open_page(page, running, lr="2e-6")
    buttons = page.locator("#suggestions button")
    texts = buttons.all_inner_texts()
    assert len(texts) == len(set(texts)) >= 2
    route = next(t for t in texts if "--basis legendre" in t)
    assert "--lr auto" in route and "--steps" in route
    before = seq(page)
    page.click(f"#suggestions button:has-text('{route}')")
    wait_answer(page, before)
    steps = route.split("--steps ")[1].split()[0]
    assert page.input_value("#basis") == "legendre" and page.input_value("#steps") == steps
    v = view(page)
    assert v["report"]["converged"] and v["query"]["basis"] == "legendre" and v["query"]["lr"] == "auto"
