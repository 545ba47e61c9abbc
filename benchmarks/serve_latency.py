"""B6: the playground's latency, slider input event -> redrawn curves, in headless Chromium.

Starts `sinefit serve` on 127.0.0.1 (a free port, its own process), opens the page in Debian's Chromium through
Playwright, drags the lr slider with the mouse (real input events, N moves, each waiting for its redraw), and
reports the median and the 90th percentile of the time the page measures from the slider's `input` event (its
time stamp) to the end of the frame that paints the curves (the fit chart and the loss chart) redrawn with the
new answer: a task posted from that frame's requestAnimationFrame callback, which runs once the frame's style,
layout and paint are done. The page redraws its other views (eigen-directions, coefficients, contour map,
math) a frame later, and they are not in this figure. The wait for each redraw is a promise the page resolves
(no polling: Playwright's default polls at every animation frame, which keeps the page drawing frames).
Bars (issue #11): median <= 50 ms for the seed's problem, <= 200 ms for degree 15 with momentum.

Below each scenario, the median of each phase of a move as the page traced it (performance marks
sinefit:*): the input event to the request, the request to the answer's headers (of it the server's own
time, and of that the computing, from its Server-Timing header), the body, JSON parsing, the redraw of the
curves, the wait for the frame, the frame's style/layout/paint. Then it plays a long run (its frames
streamed by the server at 30 a second) and reports the rate and the steadiness of the frames the page drew,
and the machine's load average.

    .venv/bin/python benchmarks/serve_latency.py            # 40 moves per scenario
    .venv/bin/python benchmarks/serve_latency.py --quick    # 3 moves: checks it runs
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from urllib.parse import urlencode

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCENARIOS = [
    ("seed problem (cubic, gd, 2000 steps)", {}, 50.0),
    ("degree 15, momentum 0.9, 2000 steps", {"degree": "15", "optimizer": "momentum", "momentum": "0.9"}, 200.0),
]


THUMB = 16  # px: Chromium's range thumb (the page places the bound mark with the same width)
PHASES = [  # (label, from, to): fields of the page's trace, ms since the input event
    ("input->request", None, "sent"), ("request->answer", "sent", "response"), ("body", "response", "received"),
    ("parse", "received", "parsed"), ("redraw", "parsed", "drawn"), ("->frame", "drawn", "frame"),
    ("paint", "frame", "painted"),
]


def grab_thumb(page, url: str):
    """Open the playground and press the mouse on the lr slider's thumb. (lo, hi, y, x_of): the
    slider's range, the thumb's row, and the pixel column of an lr value."""
    page.goto(url)
    page.wait_for_function("() => window.sinefit && window.sinefit.state.view !== null", timeout=120_000)
    lo, hi = (float(page.get_attribute("#lr-slider", a)) for a in ("min", "max"))
    box = page.locator("#lr-slider").bounding_box()
    y = box["y"] + box["height"] / 2

    def x_of(value: float) -> int:
        return round(box["x"] + THUMB / 2 + (value - lo) / (hi - lo) * (box["width"] - THUMB))

    page.mouse.move(x_of(float(page.input_value("#lr-slider"))), y)
    page.mouse.down()  # on the thumb: a value its pixel rounds to may already redraw once
    page.wait_for_timeout(1000)
    return lo, hi, y, x_of


def measure(page, url: str, moves: int) -> list[dict]:
    """Drag the lr slider's thumb with the mouse, one move at a time; the page's trace of each move."""
    lo, hi, y, x_of = grab_thumb(page, url)
    last = x_of(float(page.input_value("#lr-slider")))
    for i in range(moves + 2):  # the first two warm the problem cache and the charts
        x = x_of(lo + (hi - lo) * (0.55 + 0.1 * ((i * 7) % 10) / 10))  # below the stable bound: a converging run
        x = x if x != last else x + 1  # a move the slider sees
        count = page.evaluate("() => window.sinefit.latencies().length")
        page.mouse.move(x, y)
        page.evaluate("(n) => window.sinefit.latencyAfter(n)", count)
        last = x
    page.mouse.up()
    return page.evaluate("() => window.sinefit.traces()")[-moves:]


def drag(page, url: str, seconds: float, rate: float = 60.0) -> tuple[int, int, list[float], float]:
    """Drag the thumb to and fro without waiting, a mouse move every 1/rate s at most (a hand on a 60 Hz mouse).
    Moves made while an answer is on its way wait and only the newest is sent, so only some get their own redraw; each move's latency
    is to the first painted redraw of it or of a newer move (what the hand sees follow it). (moves, moves
    drawn, latencies in ms, moves a second)."""
    lo, hi, y, x_of = grab_thumb(page, url)
    before = page.evaluate("() => [window.sinefit.state.inputTimes.length, window.sinefit.traces().length]")
    left, right = x_of(lo + 0.5 * (hi - lo)), x_of(lo + 0.7 * (hi - lo))  # below the stable bound
    x, step, moves = left, 2, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        x += step
        if not left <= x <= right:
            step, x = -step, x - 2 * step
        page.mouse.move(x, y)
        moves += 1
        time.sleep(max(0.0, start + moves / rate - time.perf_counter()))
    page.wait_for_timeout(500)  # the last answer
    page.mouse.up()
    rate = moves / (time.perf_counter() - start)  # Playwright's mouse.move returns once the page took the event
    inputs, traces = page.evaluate("([i, t]) => [window.sinefit.state.inputTimes.slice(i), window.sinefit.traces().slice(t)]",
                                   before)  # fmt: skip
    shown = sorted((t["input"], t["input"] + t["painted"]) for t in traces)  # (its move, painted), ms
    waits = []
    for at in inputs:
        later = [painted for move, painted in shown if move >= at]
        if later:
            waits.append(min(later) - at)
    return len(inputs), len(traces), waits, rate


def phases(traces: list[dict]) -> str:
    """The median of each phase of a move, in ms."""
    def med(get):
        vals = [v for v in map(get, traces) if v is not None]
        return statistics.median(vals) if vals else float("nan")

    out = []
    for label, a, b in PHASES:
        out.append(f"{label} {med(lambda t: t.get(b) - (t.get(a) or 0) if b in t and (a is None or a in t) else None):.1f}")
        if b == "response":
            out[-1] += (f" (server {med(lambda t: t.get('app')):.1f}, computing {med(lambda t: t.get('view')):.1f})")
    return " | ".join(out) + f" | {med(lambda t: t.get('bytes')) / 1000:.1f} kB"


def frame_rate(page, url: str, seconds: float) -> tuple[float, float, float]:
    """Play a long run (its frames streamed at 30 a second) and time the frames the page drew:
    (frames a second, median interval ms, 90th-percentile interval ms)."""
    page.goto(url)
    page.wait_for_function("() => window.sinefit && window.sinefit.state.view !== null", timeout=120_000)
    page.select_option("#speed", "1")
    page.click("#reset")
    page.click("#play")
    page.wait_for_timeout(seconds * 1000)
    times = page.evaluate("() => window.sinefit.state.frameTimes.slice()")
    page.click("#pause")
    times = times[5:]  # the stream's start
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    if not gaps:
        return 0.0, float("nan"), float("nan")
    rate = 1000.0 * len(gaps) / (times[-1] - times[0])
    return rate, statistics.median(gaps), gaps[max(0, int(round(0.9 * len(gaps))) - 1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 moves per scenario")
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args(argv)
    moves = 3 if args.quick else args.moves

    from playwright.sync_api import sync_playwright

    # `sinefit serve` in a process of its own, as a user runs it (in this one it would share the GIL
    # with Playwright's driver)
    proc = subprocess.Popen([sys.executable, "-m", "sinefit", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("sinefit playground: "):
        proc.kill()
        raise SystemExit(f"sinefit serve did not start: {line!r}")
    running = types.SimpleNamespace(url=line.split()[2], stop=lambda: (proc.terminate(), proc.wait(30)))
    rows = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, query, bar in SCENARIOS:
                traces = measure(page, running.url + ("?" + urlencode(query) if query else ""), moves)
                times = [t["painted"] for t in traces]
                median = statistics.median(times)
                p90 = sorted(times)[max(0, int(round(0.9 * len(times))) - 1)]
                rows.append((name, median, p90, bar, phases(traces)))
            dragged = drag(page, running.url, 1.5 if args.quick else 6.0)  # the seed's problem
            stream = frame_rate(page, running.url + "?steps=50000&optimizer=momentum&lr=1e-6", 2.0 if args.quick else 8.0)
            browser.close()
    finally:
        running.stop()
    print(f"{'scenario':<40}{'median ms':>12}{'p90 ms':>10}{'bar ms':>9}  result")
    for name, median, p90, bar, _ in rows:
        print(f"{name:<40}{median:>12.1f}{p90:>10.1f}{bar:>9.0f}  {'pass' if median <= bar else 'FAIL'}")
    for name, *_, split in rows:
        print(f"  phases, {name.split(' (')[0]} (medians, ms): {split}")
    moves, drawn, times, rate = dragged
    if times:
        print(f"drag, seed problem (mouse moves sent without waiting, {rate:.0f} a second): {drawn} of {moves} moves "
              f"drawn (moves made while an answer is on its way wait, and only the newest is sent); a move to the redrawn curves of it or a newer "
              f"one: median {statistics.median(times):.1f} ms, "
              f"p90 {sorted(times)[max(0, int(round(0.9 * len(times))) - 1)]:.1f} ms")
    rate, gap, gap90 = stream
    print(f"animation stream (momentum, 50 000 steps, 1 step a frame): {rate:.1f} frames/s drawn, "
          f"interval median {gap:.1f} ms, p90 {gap90:.1f} ms (sent at 30/s: 33.3 ms)")
    with open("/proc/loadavg") as f:
        print("load average:", " ".join(f.read().split()[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
