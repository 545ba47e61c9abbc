// sinefit playground: the page's state lives in the URL; the server answers each state with the run's
// numbers and a light record of its path (closed form / per mode), and streams the frames of an animation
// (server-sent events, a steady 30 a second) from the run it computed. No build step, one vendored library (uPlot).
"use strict";

const FIELDS = ["target", "data", "domain", "samples", "noise", "degree", "basis", "loss", "optimizer", "lr",
  "momentum", "steps", "seed"];
const $ = (id) => document.getElementById(id);
const COLORS = ["#2563eb", "#e67e22", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#a16207", "#475569"];

// Each tab names itself to the server, so that its newer stream retires its older one there too.
const CLIENT = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
const state = { query: {}, view: null, cursor: null, playing: false, seq: 0, controller: null, charts: {}, shape: "",
  trace: null, drawing: null, inflight: 0, queued: false, waiting: {}, latencies: [], traces: [], latencyWaiters: [], inputTimes: [], uploadName: null, boundShown: null, lastSeqDrawn: 0,
  stream: null, streamSeq: 0, restSeq: 0, pending: null, framesDrawn: 0, frameTimes: [] };

// ------------------------------------------------------------------ formatting
function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(digits - 1).replace("e+", "e");
  return Number(v.toPrecision(digits)).toString();
}
function lrText(v) { return Number(v.toPrecision(3)).toString(); }

// ------------------------------------------------------------------ state <-> URL and controls
function readURL() {
  const params = new URLSearchParams(location.search);
  const q = {};
  for (const f of FIELDS) if (params.has(f)) q[f] = params.get(f);
  return q;
}
function writeURL() {
  const params = new URLSearchParams();
  for (const f of FIELDS) if (state.query[f] !== undefined && state.query[f] !== "") params.set(f, state.query[f]);
  history.replaceState(null, "", "?" + params.toString());
}
function fillControls(q) { // writes only what differs (each answer calls it; a write is style and layout work)
  const set = (id, v) => { const el = $(id); if (document.activeElement !== el && el.value !== v) el.value = v; };
  const prop = (id, name, v) => { const el = $(id); if (el[name] !== v) el[name] = v; };
  set("target", q.target ?? "sin");
  set("domain", q.domain ?? "-pi,pi");
  set("samples", q.samples ?? "1000");
  set("noise", q.noise ?? "0");
  set("degree", q.degree ?? "3");
  prop("basis", "value", q.basis ?? "power");
  prop("loss", "value", q.loss ?? "sse");
  prop("optimizer", "value", q.optimizer ?? "gd");
  const auto = q.lr === "auto";
  prop("lr-auto", "checked", auto);
  if (!auto && q.lr) set("lr", q.lr);
  set("steps", q.steps ?? "2000");
  set("seed", q.seed ?? "0");
  const mu = q.momentum || (state.view && state.view.run.momentum !== null ? lrText(state.view.run.momentum) : "");
  if (mu) { set("momentum", mu); prop("momentum-slider", "value", mu); }
  const hasData = !!q.data;
  for (const id of ["target", "samples", "noise"]) prop(id, "disabled", hasData);
  prop("clear-data", "hidden", !hasData);
  setText($("drop-text"), hasData ? `fitting the points in ${state.uploadName || "the dropped file"}`
    : "or drop a CSV / NPY file here");
  const opt = $("optimizer").value, style = (id, v) => { if ($(id).style.display !== v) $(id).style.display = v; };
  style("row-momentum", opt === "momentum" || opt === "nesterov" ? "" : "none");
  style("row-lr", opt === "exact" ? "none" : "");
}
function change(patch, sliding = false) { // the URL follows with the answer (its canonical settings), or with a refusal
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === "") delete state.query[k]; else state.query[k] = String(v);
  }
  fillControls(state.query);
  if (sliding) slide(patch); else request();
}

// A slider moves faster than answers come back: cancelling the answer on its way at each move would show
// nothing until the hand stops. So while one is on its way a move waits, and the newest move is sent as soon
// as the answer lands and is drawn (never two requests of a drag at once, so nothing of it is stale). Every other
// control sends at once, cancelling what is on its way.
function slide(patch) {
  if (state.inflight) { state.queued = true; Object.assign(state.waiting, patch); return; }
  request();
}
function landed(seq) {
  if (state.inflight !== seq) return; // a newer request took over
  state.inflight = 0;
  if (state.queued) { state.queued = false; request(); }
}

// ------------------------------------------------------------------ talking to the server
// Large arrays arrive packed: {f64: base64 of little-endian float64 bytes, shape}; exact, and quick to read.
function unpack({ f64, shape }) {
  const bin = atob(f64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const a = new Float64Array(bytes.buffer);
  if (shape.length === 1) return Array.from(a);
  const out = [], c = shape[1];
  for (let i = 0; i < shape[0]; i++) out.push(Array.from(a.subarray(i * c, (i + 1) * c)));
  return out;
}
function decode(o) {
  if (Array.isArray(o)) return o.map(decode);
  if (o && typeof o === "object") {
    if ("f64" in o && "shape" in o) return unpack(o);
    for (const k of Object.keys(o)) o[k] = decode(o[k]);
  }
  return o;
}
function clearErrors() {
  document.querySelectorAll(".err").forEach((e) => (e.textContent = ""));
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}
function showError(field, message) {
  const box = $("err-" + field) || $("err-general");
  box.textContent = message;
  const control = $(field);
  if (control) control.classList.add("invalid");
}
function request(carried = null) {
  state.queued = false; state.waiting = {}; // this request carries the newest settings
  const seq = state.seq + 1;
  state.inflight = seq;
  return send(carried).finally(() => landed(seq));
}
async function send(carried) {
  const seq = ++state.seq, trace = carried || state.trace; // a slider move's trace goes with the request it started
  state.trace = null;
  if (state.controller) state.controller.abort(); // a newer request cancels the older one...
  closeStream(); // ...and the frames of the older settings stop
  const controller = new AbortController();
  state.controller = controller;
  const params = new URLSearchParams(state.query);
  if (state.view) params.set("have", state.view.problem_id); // the data and surface come only when they change
  params.set("client", CLIENT); // the server skips this request if a newer one of this tab overtakes it
  let body, ok;
  try {
    mark(trace, "sent");
    const response = await fetch("/api/fit?" + params.toString(), { signal: controller.signal });
    mark(trace, "response");
    ok = response.ok;
    const text = await response.text();
    mark(trace, "received");
    body = decode(JSON.parse(text));
    mark(trace, "parsed");
    if (trace) Object.assign(trace, { bytes: text.length }, serverTiming(response.headers.get("server-timing")));
  } catch (e) {
    if (e.name === "AbortError") return;
    if (seq !== state.seq) return;
    clearErrors();
    showError("general", "the playground server does not answer: is `sinefit serve` still running?");
    return;
  }
  if (seq !== state.seq) return; // a stale answer: dropped
  clearErrors();
  if (!ok) {
    showError(body.field || "general", body.error || "error");
    document.body.dataset.error = body.field;
    writeURL(); // the URL keeps what was typed, so a reload shows the same message
    pause();
    $("status").className = "status bad";
    $("status").textContent = "a setting in red needs fixing: the views show the last valid one";
    state.lastSeqDrawn = seq;
    return;
  }
  delete document.body.dataset.error;
  // the canonical settings (exact floats) become the URL once the curves show, with the moves still waiting
  state.query = { ...body.query, ...state.waiting };
  const now = state.view && state.playing && state.cursor ? state.cursor.t : null;
  if (body.problem === null) { // the same problem as the page's: keep it (and what was derived from it)
    if (!state.view || state.view.problem_id !== body.problem_id) { delete state.query.have; state.view = null; return request(trace); }
    body.problem = state.view.problem;
  }
  state.view = body;
  const run = body.run;
  // a new answer shows the end of the run, or, playing, plays on from the same step with the new settings
  setCursor(recordedIndex(now === null ? run.end : Math.min(now, run.end)));
  state.drawing = trace;
  draw();
  afterPaint(() => { // history.replaceState costs a millisecond or two: not before the curves are on screen
    if (seq === state.seq) writeURL();
    state.lastSeqDrawn = Math.max(state.lastSeqDrawn, seq);
  });
  if (state.playing) openStream(state.cursor.t);
}

// What waits for the frame that shows the curves: a task posted from that frame's requestAnimationFrame callback
// runs once the frame's style, layout and paint are done, before the next frame (a rAF queued from it instead
// would keep frames coming, and Chromium holds tasks back until the next one too). A hidden tab draws no
// frames: its queue runs on a timer.
const painting = { queue: [], frameAt: 0, timer: null };
function afterPaint(fn) {
  painting.queue.push(fn);
  if (painting.queue.length > 1) return;
  const run = () => {
    clearTimeout(painting.timer);
    const fns = painting.queue.splice(0);
    for (const f of fns) f();
  };
  requestAnimationFrame(() => {
    painting.frameAt = performance.now();
    const channel = new MessageChannel();
    channel.port1.onmessage = run;
    channel.port2.postMessage(0);
  });
  painting.timer = setTimeout(() => { if (document.hidden) run(); }, 250);
}

// ------------------------------------------------------------------ latency: a slider move to the redrawn curves on screen
// A move is traced from its input event (the event's own time stamp) to the end of the frame that paints the
// redrawn curves: a task posted from that frame's requestAnimationFrame callback runs once the frame's style,
// layout and paint are done. Each phase is a performance mark (sinefit:...) and a field of the trace, in ms
// since the event; the benchmark (benchmarks/serve_latency.py) reports them.
function traceInput(ev) {
  state.trace = { input: ev.timeStamp, handled: performance.now() - ev.timeStamp };
  state.inputTimes.push(ev.timeStamp); // every move, drawn or overtaken (the benchmark's drag)
  if (state.inputTimes.length > 2000) state.inputTimes.shift();
}
function mark(trace, name, at = performance.now()) { if (trace) trace[name] = at - trace.input; }
function timeline(trace) { // the trace as performance marks (DevTools' timings track), made once it is over
  performance.clearMarks();
  for (const [name, t] of Object.entries(trace)) {
    if (name === "input" || name === "bytes" || name === "view" || name === "app") continue;
    performance.mark("sinefit:" + name, { startTime: trace.input + t });
  }
}
function serverTiming(header) { // "view;dur=4.1, app;dur=4.6": the answer's computing, and the server's whole time
  const out = {};
  for (const m of (header || "").matchAll(/(\w+);dur=([0-9.]+)/g)) out[m[1]] = +m[2];
  return out;
}
function traceToPaint(trace) {
  mark(trace, "drawn");
  afterPaint(() => {
    mark(trace, "frame", painting.frameAt);
    mark(trace, "painted");
    timeline(trace);
    state.traces.push(trace); state.latencies.push(trace.painted);
    if (state.traces.length > 1000) { state.traces.shift(); state.latencies.shift(); }
    for (const w of state.latencyWaiters.splice(0)) w();
  });
}
function latencyAfter(n) { // resolves once more than n moves have been measured (the benchmark waits on it)
  return new Promise((resolve, reject) => {
    const check = () => (state.latencies.length > n ? resolve(state.latencies.length) : state.latencyWaiters.push(check));
    check();
    setTimeout(() => reject(new Error("no redraw within 60 s of a slider move")), 60_000);
  });
}

// ------------------------------------------------------------------ the cursor: the step the views show
function recordedIndex(t) { // the last recorded step at or before t
  const rec = state.view.run.recorded;
  let lo = 0, hi = rec.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (rec[mid] <= t) lo = mid; else hi = mid - 1; }
  return lo;
}
function setCursor(i) {
  const r = state.view.run;
  state.cursor = { t: r.recorded[i], theta: r.thetas[i], loss: r.losses[i] };
}
function pathNow() { // the recorded steps up to the cursor, and the cursor's own step
  const r = state.view.run, c = state.cursor, i = recordedIndex(c.t);
  const steps = r.recorded.slice(0, i + 1), thetas = r.thetas.slice(0, i + 1), losses = r.losses.slice(0, i + 1);
  const E = state.E.slice(0, i + 1);
  if (c.t > steps[i]) { steps.push(c.t); thetas.push(c.theta); losses.push(c.loss); E.push(modesOf(c.theta)); }
  return { steps, thetas, losses, E };
}

// ------------------------------------------------------------------ the animation's stream of frames
function streamURL(path, from, extra = {}) {
  const params = new URLSearchParams(state.query);
  params.set("from", String(from)); params.set("client", CLIENT);
  for (const [k, v] of Object.entries(extra)) params.set(k, String(v));
  return path + "?" + params.toString();
}
function closeStream() {
  state.streamSeq++; // frames of the stream being left are dropped, even those already on their way
  if (state.stream) { state.stream.close(); state.stream = null; }
}
function openStream(from) {
  closeStream();
  const id = state.streamSeq, speed = +$("speed").value;
  const source = new EventSource(streamURL("/api/stream", from, { speed }));
  state.stream = source;
  source.onmessage = (ev) => { if (id === state.streamSeq) showFrame(JSON.parse(ev.data)); };
  source.addEventListener("end", () => { if (id === state.streamSeq) { flushFrame(); closeStream(); pause(); } });
  source.onerror = () => { // the server stopped, or refused: pause where the page is, and say so
    if (id !== state.streamSeq) return;
    closeStream(); pause();
    showError("general", "the animation's stream stopped: is `sinefit serve` still running? (play resumes from here)");
  };
}
function showFrame(f) { // draw at the next animation frame, the newest frame only (a slow page skips, never lags)
  const first = state.pending === null;
  state.pending = { f, id: state.streamSeq };
  if (first) requestAnimationFrame(flushFrame);
}
function flushFrame() {
  if (state.pending === null) return;
  const { f, id } = state.pending;
  state.pending = null;
  if (id !== state.streamSeq || !state.view || f.t > state.view.run.end) return; // a stale frame: dropped
  state.cursor = f; state.framesDrawn++; state.frameTimes.push(performance.now());
  if (window.sinefit.onFrame) window.sinefit.onFrame(f, state.view); // for the tests
  if (state.frameTimes.length > 600) state.frameTimes.shift();
  render();
}

// ------------------------------------------------------------------ linear algebra on the page (p is small)
function modesOf(theta) { // e = V^T (theta - theta*)
  const P = state.view.problem, p = P.p, e = new Array(p).fill(0);
  for (let j = 0; j < p; j++) { const d = theta[j] - P.optimum[j]; for (let i = 0; i < p; i++) e[i] += P.directions[j][i] * d; }
  return e;
}
function curve(theta) {
  const C = state.view.problem.columns, out = new Array(C[0].length).fill(0);
  for (let j = 0; j < theta.length; j++) { const c = C[j], t = theta[j]; for (let i = 0; i < c.length; i++) out[i] += t * c[i]; }
  return out;
}
function gradient(theta) { // dL/dtheta = 2 V diag(c s^2) V^T (theta - theta*)
  const P = state.view.problem, e = modesOf(theta), g = new Array(P.p).fill(0);
  for (let j = 0; j < P.p; j++) for (let i = 0; i < P.p; i++) g[j] += 2 * P.directions[j][i] * P.weights[i] * e[i];
  return g;
}
function shownModes(p) { // indexes into the descending eigenvalues: every mode, or the slowest five and the fastest
  if (p <= 6) return [...Array(p).keys()];
  return [0, p - 5, p - 4, p - 3, p - 2, p - 1];
}

// ------------------------------------------------------------------ charts
function size(el) { const r = el.getBoundingClientRect(); return { width: Math.max(200, r.width), height: 260 }; }
// Log scales are drawn in log10 space on linear scales (steady ticks at powers of ten, any range).
const L = (v) => (v !== null && v > 0 && isFinite(v) ? Math.log10(v) : null);
function decades(u, axisIdx, min, max) {
  const out = [], step = Math.max(1, Math.ceil((max - min) / 8));
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(v);
  return out;
}
const pow10Label = (v) => { const x = Math.pow(10, v); return Math.abs(v) <= 3 ? fmt(x, 2) : `1e${Math.round(v)}`; };
const logAxis = (label) => ({ label, labelSize: 18, size: 56, splits: decades, values: (u, vals) => vals.map(pow10Label) });
const logX = (label) => ({ ...logAxis(label), size: 44 });
const LIN = { time: false, auto: false };

function makeCharts() {
  const V = state.view, p = V.problem.p;
  for (const c of Object.values(state.charts)) c.destroy();
  state.charts = {};
  const fitEl = $("chart-fit");
  state.charts.fit = new uPlot({
    ...size(fitEl), legend: { show: true, live: false }, cursor: { show: false },
    scales: { x: { time: false } },
    series: [{}, { label: "data", stroke: "#94a3b8", width: 0, points: { show: true, size: 3, fill: "#94a3b8", stroke: "#94a3b8" } },
      { label: "initial", stroke: "#f59e0b", width: 1.5, dash: [6, 4], spanGaps: true },
      { label: "optimum", stroke: "#16a34a", width: 2, dash: [2, 3], spanGaps: true },
      { label: "fit now", stroke: "#2563eb", width: 2.5, spanGaps: true }],
    axes: [{ label: "x", labelSize: 18 }, { label: "y", labelSize: 18, size: 52 }],
  }, [[0], [null], [null], [null], [null]], fitEl);
  // "fit now" is drawn on a canvas of its own over the plot (uPlot keeps its legend entry and no data): a
  // slider move or a frame redraws one 240-point line, and uPlot redraws the data and the fixed curves only when
  // they change
  const over = document.createElement("canvas");
  over.className = "now-curve";
  state.charts.fit.over.appendChild(over);
  state.fitNow = { canvas: over, key: null };
  const lossEl = $("chart-loss");
  state.charts.loss = new uPlot({
    ...size(lossEl), legend: { show: true, live: false }, cursor: { show: false },
    scales: { x: LIN, y: LIN },
    series: [{}, { label: "loss", stroke: "#2563eb", width: 2, points: { show: false } },
      { label: "optimum L*", stroke: "#16a34a", dash: [6, 4], width: 1.5, points: { show: false } }],
    axes: [logX("step + 1"), logAxis("loss")],
    hooks: { draw: [drawDivergence] },
  }, [[0], [null], [null]], lossEl);
  const modes = shownModes(p), modeSeries = [{}];
  modes.forEach((i, n) => {
    const c = COLORS[n % COLORS.length], lam = fmt(V.problem.eigenvalues[i], 3);
    modeSeries.push({ label: `λ${i + 1}=${lam}`, stroke: c, width: 2, points: { show: false } });
    modeSeries.push({ label: "", stroke: c, width: 1, dash: [5, 4], points: { show: false } });
  });
  const modesEl = $("chart-modes");
  state.charts.modes = new uPlot({
    ...size(modesEl), legend: { show: false }, cursor: { show: false },
    scales: { x: LIN, y: LIN }, series: modeSeries,
    axes: [logX("step + 1"), logAxis("share of L − L*")],
  }, [[0], ...modeSeries.slice(1).map(() => [null])], modesEl);
  const coefEl = $("chart-coef"), coefSeries = [{}];
  V.problem.names.forEach((name, j) => {
    const c = COLORS[j % COLORS.length];
    coefSeries.push({ label: name, stroke: c, width: 2, points: { show: false } });
    coefSeries.push({ label: "", stroke: c, width: 1, dash: [1, 3], points: { show: false } });
  });
  state.charts.coef = new uPlot({
    ...size(coefEl), legend: { show: false }, cursor: { show: false },
    scales: { x: LIN }, series: coefSeries,
    axes: [logX("step + 1"), { label: "value", labelSize: 18, size: 60, values: (u, v) => v.map((x) => fmt(x, 3)) }],
  }, [[0], ...coefSeries.slice(1).map(() => [null])], coefEl);
  // one legend entry per direction / coefficient (the dashed twins share its colour)
  legend(state.charts.modes, modes.map((i, n) => [COLORS[n % COLORS.length], `λ${i + 1} = ${fmt(V.problem.eigenvalues[i], 3)}`]));
  legend(state.charts.coef, p <= 12 ? V.problem.names.map((name, j) => [COLORS[j % COLORS.length], name]) : []);
}

function legend(chart, entries) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const [colour, label] of entries) {
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${colour}"></i>`;
    item.appendChild(document.createTextNode(label));
    box.appendChild(item);
  }
  chart.root.appendChild(box);
}

function drawDivergence(u) { // a red line where the loss overflowed, a green one where the run converged and stopped
  const r = state.view && state.view.run;
  if (!r || (r.diverged_at === null && r.converged_at === null)) return;
  const at = r.diverged_at !== null ? r.diverged_at : r.converged_at;
  const x = u.valToPos(Math.log10(at + 1), "x", true), ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = r.diverged_at !== null ? "#c62828" : "#16a34a"; ctx.lineWidth = 2; ctx.setLineDash([4, 3]);
  ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
  ctx.restore();
}

function drawNow(xs, ys) { // the current curve, as uPlot would draw its "fit now" series (stroke, width, clipped)
  const u = state.charts.fit, cv = state.fitNow.canvas, dpr = window.devicePixelRatio || 1;
  const w = u.bbox.width / dpr, h = u.bbox.height / dpr;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    cv.style.width = `${w}px`; cv.style.height = `${h}px`;
  }
  const ctx = cv.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, cv.width, cv.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.beginPath();
  let down = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (!isFinite(y)) { down = false; continue; } // a diverged run's overflow: a gap
    const px = u.valToPos(xs[i], "x"), py = Math.max(-1e4, Math.min(1e4, u.valToPos(y, "y")));
    down ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
    down = true;
  }
  ctx.strokeStyle = "#2563eb"; ctx.lineWidth = 2.5; ctx.lineJoin = "round"; ctx.stroke();
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

function positive(v) { return v !== null && v > 0 && isFinite(v) ? v : null; }

function draw() {
  const V = state.view, p = V.problem.p;
  const shape = [p, V.problem.names.join(), V.run.rates ? 1 : 0].join("|");
  if (shape !== state.shape) { makeCharts(); state.shape = shape; }
  fillControls(state.query);
  drawLrSlider();
  drawStatic();
  render(true);
}

function drawStatic() { // what does not move with the step cursor
  const V = state.view, r = V.run, rep = V.report;
  const status = $("status");
  status.dataset.diverging = r.diverging ? "1" : "0";
  status.className = "status " + (r.diverging ? "bad" : rep.converged || r.converged_at !== null ? "good" : "");
  setText(status, r.diverged_at !== null ? `diverged at step ${r.diverged_at}`
    : r.diverging ? "lr above the stable bound: diverging"
    : r.converged_at !== null ? `converged at step ${r.converged_at}: at the optimum, so it stopped (as sinefit fit does)`
    : rep.converged ? `reaches the optimum within ${r.steps} steps` : "");
  status.dataset.converged = r.converged_at === null ? "" : String(r.converged_at);
  const badge = $("divergence");
  badge.hidden = !r.diverging;
  setText(badge, r.diverged_at !== null ? `overflow at step ${r.diverged_at}` : "lr > stable bound");
  const rows = [
    ["final loss", fmt(rep.final_loss, 7)], ["optimum L*", fmt(rep.optimum_loss, 7)],
    ["final / optimum", rep.ratio === null ? "—" : fmt(rep.ratio, 5) + "×"], ["R²", fmt(rep.r2, 6)],
    ["RMSE", fmt(rep.rmse, 5)], ["max |error|", `${fmt(rep.max_error, 4)} at x = ${fmt(rep.max_error_at, 4)}`],
    ["lr used", r.lr === null ? "—" : fmt(r.lr, 4) + (r.auto ? " (auto)" : "")],
    ["stable lr bound", r.bound === null ? "none for this optimizer" : fmt(r.bound, 4)],
    ["condition number", fmt(V.problem.condition, 4)],
  ];
  // only what changed is written: a slider move changes a few numbers, and the frame that shows the curves
  // lays out and paints what was written
  const table = $("stats");
  if (table.rows.length !== rows.length) table.innerHTML = rows.map(() => "<tr><td></td><td></td></tr>").join("");
  rows.forEach(([a, b], i) => { setText(table.rows[i].cells[0], a); setText(table.rows[i].cells[1], b); });
  table.rows[0].cells[1].dataset.value = String(rep.final_loss);
  table.rows[0].cells[1].id = "final-loss";
  setText($("report-when"), `after ${r.converged_at !== null ? r.converged_at : r.steps} steps` + (r.auto ? ` · ${r.auto}` : ""));
  setText($("why"), rep.why);
  if (state.hintShown !== rep.hint) {
    state.hintShown = rep.hint;
    $("hint").innerHTML = "";
    for (const part of rep.hint.split(/(--[a-z-]+ [^\s,;()]+)/)) { // keep "--lr 7.07e-6" on one line
      const span = document.createElement("span");
      span.textContent = part;
      if (part.startsWith("--")) span.className = "opt";
      $("hint").appendChild(span);
    }
  }
  const box = $("suggestions");
  const labels = JSON.stringify(rep.suggestions);
  if (box.dataset.shown !== labels) {
    box.dataset.shown = labels;
    box.innerHTML = "";
    for (const s of rep.suggestions) {
      const b = document.createElement("button");
      b.textContent = "apply " + s.label;
      b.addEventListener("click", () => { pause(); change(s.patch); });
      box.appendChild(b);
    }
  }
  setText($("command"), V.downloads.command);
  $("dl-model").disabled = V.downloads.model_json === null;
  const P = V.problem;
  setText($("fit-legend"), `${V.target} · ${P.n} points`);
  // the fixed series: data, initial, optimum, on one sorted x (uPlot wants a single x array)
  if (!P.fit) {
    const xs = [...P.x.map((x, i) => [x, P.y[i], null]), ...P.grid.map((x, i) => [x, null, i])].sort((a, b) => a[0] - b[0]);
    P.fit = { X: xs.map((v) => v[0]), D: xs.map((v) => v[1]), at: xs.map((v) => v[2]) };
  }
  const fixedKey = r.thetas[0].join(); // with the problem's own object: what the fixed curves depend on
  if (!state.fitFixed || state.fitFixed.P !== P || state.fitFixed.key !== fixedKey) {
    const initial = curve(r.thetas[0]), optimum = curve(P.optimum), at = P.fit.at;
    const yr = [...P.y, ...optimum].filter((v) => v !== null && isFinite(v));
    const lo = Math.min(...yr), hi = Math.max(...yr), pad = 0.35 * (hi - lo || 1);
    state.fitFixed = { P, key: fixedKey, I: at.map((i) => (i === null ? null : initial[i])),
      O: at.map((i) => (i === null ? null : optimum[i])), y: { min: lo - pad, max: hi + pad } };
  }
  state.E = r.thetas.map(modesOf); // each recorded step's error along the eigen-directions
}

// An answer redraws the curves and the loss chart at once and the other views (eigen-directions,
// coefficients, contour map, math, step label) once the frame that shows the curves is painted (``afterPaint``):
// the slider's latency is to the redrawn curves. A frame of the animation redraws everything at once.
function render(deferRest = false) {
  const V = state.view, r = V.run, P = V.problem, c = state.cursor, path = pathNow(), k = path.steps.length - 1;
  const theta = c.theta, now = curve(theta), t = c.t;
  // fit chart: only the current curve moves
  const X = P.fit.X;
  if (state.fitNow.key !== state.fitFixed) { // the data, the initial curve or the optimum changed: uPlot redraws them
    state.fitNow.key = state.fitFixed;
    state.charts.fit.batch(() => {
      state.charts.fit.setData([X, P.fit.D, state.fitFixed.I, state.fitFixed.O, X.map(() => null)], false);
      state.charts.fit.setScale("x", { min: X[0], max: X[X.length - 1] });
      state.charts.fit.setScale("y", state.fitFixed.y);
    });
  }
  drawNow(P.grid, now);
  // loss chart, up to the cursor: x = log10(step + 1), y = log10(loss)
  const one = k === 0; // a single point draws nothing: show step 0 as a short flat segment
  const xsLog = path.steps.map((t) => Math.log10(t + 1));
  const X1 = one ? [0, 0.05] : xsLog, pick = (arr) => (one ? [arr[0], arr[0]] : arr);
  const xmax = Math.max(0.3, Math.log10(r.end + 1));
  const lossLog = path.losses.map(L), optLog = L(P.optimum_loss), allLog = r.losses.map(L);
  const finiteLoss = [...allLog, optLog].filter((v) => v !== null); // the scale of the whole run: steady while it plays
  state.charts.loss.batch(() => {
    state.charts.loss.setData([X1, pick(lossLog), X1.map(() => optLog)], false);
    state.charts.loss.setScale("x", { min: 0, max: xmax });
    const lo = Math.min(...finiteLoss), hi = Math.max(...finiteLoss), pad = Math.max(0.1, 0.05 * (hi - lo));
    state.charts.loss.setScale("y", { min: lo - pad, max: hi + pad });
  });
  const ctx = { V, r, P, c, path, k, theta, t, X1, pick, xmax, one };
  if (state.drawing) { traceToPaint(state.drawing); state.drawing = null; }
  if (!deferRest) { renderRest(ctx); return; }
  const id = ++state.restSeq;
  afterPaint(() => { if (id === state.restSeq && state.view === V && state.cursor === c) renderRest(ctx); });
}

function renderRest({ V, r, P, c, path, k, theta, t, X1, pick, xmax, one }) {
  state.restSeq++; // a deferred redraw still waiting is now stale
  // each eigen-direction's share of L - L*: measured (solid) and predicted from its rate (dashed)
  const modes = shownModes(P.p), e0 = modesOf(r.thetas[0]), series = [X1];
  const allE = path.E;
  let mmin = Infinity, mmax = -Infinity;
  for (const i of modes) {
    const measured = allE.map((e) => L(P.weights[i] * e[i] * e[i]));
    const base = P.weights[i] * e0[i] * e0[i];
    const predicted = r.rates ? path.steps.map((t) => L(base) === null ? null : L(base) + t * Math.log10(r.rates[i])) : measured.map(() => null);
    for (const v of [...measured, ...predicted]) if (v !== null && isFinite(v)) { mmin = Math.min(mmin, v); mmax = Math.max(mmax, v); }
    series.push(pick(measured), pick(predicted));
  }
  const start = Math.max(...series.slice(1).map((ser) => ser[0]).filter((v) => v !== null && isFinite(v)));
  const floor = Math.max(mmin, Math.min(mmax, isFinite(start) ? start : mmax) - 16);
  for (let n = 1; n < series.length; n++) series[n] = series[n].map((v) => (v !== null && isFinite(v) && v >= floor - 1 ? v : null));
  state.charts.modes.batch(() => {
    state.charts.modes.setData(series, false);
    state.charts.modes.setScale("x", { min: 0, max: xmax });
    if (isFinite(mmax)) state.charts.modes.setScale("y", { min: floor - 0.3, max: mmax + 0.3 });
  });
  // coefficients
  const coef = [X1];
  let cmin = Infinity, cmax = -Infinity;
  for (let j = 0; j < P.p; j++) {
    const line = path.thetas.map((th) => (isFinite(th[j]) ? th[j] : null));
    coef.push(pick(line), X1.map(() => P.optimum[j]));
    for (const v of [...r.thetas.map((th) => th[j]), P.optimum[j]]) if (v !== null && isFinite(v)) { cmin = Math.min(cmin, v); cmax = Math.max(cmax, v); }
  }
  // a diverging run's coefficients explode: keep the scale where the start and the optimum can be read
  const sane = Math.max(...r.thetas[0].map(Math.abs), ...P.optimum.map(Math.abs)) * 10;
  cmin = Math.max(cmin, -sane); cmax = Math.min(cmax, sane);
  for (let n = 1; n < coef.length; n++) coef[n] = coef[n].map((v) => (v !== null && Math.abs(v) <= 100 * sane ? v : null));
  state.charts.coef.batch(() => {
    state.charts.coef.setData(coef, false);
    state.charts.coef.setScale("x", { min: 0, max: xmax });
    if (isFinite(cmin)) { const pad = 0.08 * (cmax - cmin || 1); state.charts.coef.setScale("y", { min: cmin - pad, max: cmax + pad }); }
  });
  drawContour(path.E);
  drawMath(theta, t, c.loss);
  $("step-label").textContent = r.converged_at !== null ? `step ${t} of ${r.end} (converged; cap ${r.steps})` : `step ${t} of ${r.steps}`;
  $("step-label").dataset.step = String(t);
}

// The contour map: the ellipses, frame and labels are drawn once per answer (and size) into a canvas of
// their own; each frame copies it and draws the path on top.
function contourFrame() {
  const canvas = $("contour"), V = state.view, P = V.problem;
  if (!state.contourWidth) state.contourWidth = canvas.getBoundingClientRect().width; // again on resize only
  const dpr = window.devicePixelRatio || 1;
  const W = state.contourWidth, H = 260, m = { l: 58, r: 12, t: 10, b: 40 };
  const key = [V, W, dpr].join();
  if (state.contour && state.contour.view === V && state.contour.key === key) return state.contour;
  if (canvas.width !== Math.round(W * dpr)) canvas.width = Math.round(W * dpr);
  if (canvas.height !== Math.round(H * dpr)) canvas.height = Math.round(H * dpr);
  const bg = document.createElement("canvas");
  bg.width = canvas.width; bg.height = canvas.height;
  const ctx = bg.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = "12px system-ui, sans-serif"; ctx.fillStyle = "#5f6b7a";
  const out = { view: V, key, bg, W, H, m, dpr, flat: P.p < 2 };
  state.contour = out;
  if (out.flat) { ctx.fillText("a degree-0 model has one direction: no plane to draw", m.l, H / 2); return out; }
  const a = P.p - 1, b = P.p - 2; // the slowest, then the second slowest
  let U = 1e-300, Vv = 1e-300; // the scale of the whole run's path: steady while it plays
  for (const e of state.E) if (isFinite(e[a]) && isFinite(e[b])) { U = Math.max(U, Math.abs(e[a])); Vv = Math.max(Vv, Math.abs(e[b])); }
  U *= 1.15; Vv *= 1.15;
  const sx = (u) => m.l + ((u + U) / (2 * U)) * (W - m.l - m.r), sy = (v) => m.t + ((Vv - v) / (2 * Vv)) * (H - m.t - m.b);
  Object.assign(out, { a, b, sx, sy });
  // contours of w_a u^2 + w_b v^2 (the loss above L* in this plane), log-spaced levels
  const wa = P.weights[a], wb = P.weights[b], top = wa * U * U + wb * Vv * Vv;
  ctx.save();
  ctx.beginPath(); ctx.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); ctx.clip();
  for (let n = 0; n < 9; n++) {
    const level = top * Math.pow(0.3, n);
    ctx.beginPath();
    for (let s = 0; s <= 96; s++) {
      const ang = (2 * Math.PI * s) / 96, u = Math.sqrt(level / wa) * Math.cos(ang), v = Math.sqrt(level / wb) * Math.sin(ang);
      s === 0 ? ctx.moveTo(sx(u), sy(v)) : ctx.lineTo(sx(u), sy(v));
    }
    ctx.strokeStyle = `rgba(37, 99, 235, ${0.15 + 0.07 * n})`; ctx.lineWidth = 1; ctx.stroke();
  }
  ctx.fillStyle = "#16a34a"; ctx.beginPath(); ctx.arc(sx(0), sy(0), 5, 0, 7); ctx.fill();
  ctx.restore();
  ctx.strokeStyle = "#d9dee5"; ctx.strokeRect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
  ctx.fillStyle = "#5f6b7a";
  ctx.fillText(`slowest direction (λ = ${fmt(P.eigenvalues[a], 3)}) →`, m.l, H - 22);
  ctx.save(); ctx.translate(14, H - m.b); ctx.rotate(-Math.PI / 2);
  ctx.fillText(`2nd slowest (λ = ${fmt(P.eigenvalues[b], 3)}) →`, 0, 0); ctx.restore();
  ctx.fillText(`±${fmt(U, 2)}`, W - m.r - 60, H - 22);
  ctx.fillText(`±${fmt(Vv, 2)}`, m.l + 4, m.t + 12);
  const legend = [["#f59e0b", "start"], ["#2563eb", "now"], ["#16a34a", "optimum θ*"]];
  let x = m.l; const y = H - 6;
  for (const [c, label] of legend) { ctx.fillStyle = c; ctx.beginPath(); ctx.arc(x + 4, y - 4, 4, 0, 7); ctx.fill();
    ctx.fillStyle = "#5f6b7a"; ctx.fillText(label, x + 12, y); x += ctx.measureText(label).width + 30; }
  return out;
}

function drawContour(E) {
  const f = contourFrame(), canvas = $("contour"), ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(f.bg, 0, 0);
  if (f.flat) return;
  const { a, b, sx, sy, m, W, H, dpr } = f;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.save();
  ctx.beginPath(); ctx.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); ctx.clip();
  const upto = E.map((e) => [e[a], e[b]]).filter(([u, v]) => isFinite(u) && isFinite(v)); // the path up to the cursor
  ctx.beginPath();
  upto.forEach(([u, v], i) => (i === 0 ? ctx.moveTo(sx(u), sy(v)) : ctx.lineTo(sx(u), sy(v))));
  ctx.strokeStyle = "#e67e22"; ctx.lineWidth = 2; ctx.stroke();
  if (upto.length) {
    const [u0, v0] = upto[0], [u1, v1] = upto[upto.length - 1];
    ctx.fillStyle = "#f59e0b"; ctx.beginPath(); ctx.arc(sx(u0), sy(v0), 4, 0, 7); ctx.fill();
    ctx.fillStyle = "#2563eb"; ctx.beginPath(); ctx.arc(sx(u1), sy(v1), 5, 0, 7); ctx.fill();
  }
  ctx.restore();
}

function drawMath(theta, t, loss) {
  const V = state.view, M = V.math, r = V.run, P = V.problem;
  const g = gradient(theta);
  const coefs = M.names.map((n, j) => `${n} = ${fmt(theta[j], 6)}`).join(",  ");
  const grads = M.gradient.slice(1).map((line, j) => `${line.padEnd(36)} = ${fmt(g[j], 5)}`);
  const rule = M.update + (r.lr !== null && r.optimizer !== "exact" ? `      lr = ${fmt(r.lr, 4)}` : "") +
    (r.momentum !== null && (r.optimizer === "momentum" || r.optimizer === "nesterov") ? `,  μ = ${fmt(r.momentum, 4)}` : "");
  const lines = [
    ["head", "Model"], ["", M.model], ["", coefs],
    ["head", "Loss"], ["", `${M.loss}      = ${fmt(loss, 7)}   (optimum ${fmt(P.optimum_loss, 7)})`],
    ["head", "Gradient, written by hand as in the seed"], ["", M.gradient[0]], ...grads.map((l) => ["", l]),
    ["head", `Update (${r.optimizer})`], ["", rule],
  ];
  $("math").innerHTML = lines.map(([c, text]) => `<div class="line ${c}"></div>`).join("");
  $("math").querySelectorAll(".line").forEach((el, i) => (el.textContent = lines[i][1]));
  $("math-when").textContent = `at step ${t}`;
}

// ------------------------------------------------------------------ the lr slider and its stable bound
function drawLrSlider() {
  const r = state.view.run, slider = $("lr-slider");
  const bound = r.bound, lr = r.lr;
  const centre = bound ?? lr ?? 1e-3;
  if (state.boundShown === null || Math.abs(Math.log10(centre / state.boundShown)) > 0.05) {
    slider.min = (Math.floor((Math.log10(centre) - 4) * 100) / 100).toString();
    slider.max = (Math.ceil((Math.log10(centre) + 1) * 100) / 100).toString();
    state.boundShown = centre;
  }
  if (lr !== null && document.activeElement !== slider) slider.value = Math.log10(lr);
  if ((state.query.lr === "auto" || !state.query.lr) && lr !== null && document.activeElement !== $("lr")) $("lr").value = lrText(lr);
  const mark = $("bound-mark");
  if (bound === null) { if (!mark.hidden) mark.hidden = true; return; }
  const lo = +slider.min, hi = +slider.max, f = (Math.log10(bound) - lo) / (hi - lo);
  if (mark.hidden) mark.hidden = false;
  // the thumb's centre runs from half a thumb to the track's end minus half a thumb
  if (!state.sliderWidth) state.sliderWidth = slider.getBoundingClientRect().width; // again on resize only
  const thumb = 16, width = state.sliderWidth;
  const left = `${thumb / 2 + f * (width - thumb)}px`;
  if (mark.style.left !== left) mark.style.left = left;
  if (mark.dataset.bound !== String(bound)) mark.dataset.bound = String(bound);
  setText($("bound-label"), `stable < ${fmt(bound, 3)}`);
}

// ------------------------------------------------------------------ play, pause, step, reset
// Playing streams the frames from the server (``openStream``); pausing closes the stream where the page is.
function atEnd() { return state.cursor.t >= state.view.run.end; }
function play() {
  if (!state.view) return;
  if (atEnd()) setCursor(0);
  state.playing = true; document.body.dataset.playing = "1";
  render();
  openStream(state.cursor.t);
}
function pause() { state.playing = false; document.body.dataset.playing = "0"; closeStream(); }
async function step() { // one step further: from the record when it holds the step, else one frame from the server
  pause();
  if (!state.view || atEnd()) return;
  const t = state.cursor.t + 1, i = recordedIndex(t), r = state.view.run, view = state.view;
  if (r.recorded[i] === t) { setCursor(i); render(); return; }
  try {
    const response = await fetch(streamURL("/api/frames", t, { count: 1 }));
    const body = await response.json();
    if (!response.ok) { showError(body.field || "general", body.error); return; }
    if (state.view !== view || state.playing) return; // a newer answer, or playing: this frame is stale
    state.cursor = body.frames[0]; render();
  } catch (e) { showError("general", "the playground server does not answer: is `sinefit serve` still running?"); }
}
function reset() { pause(); if (state.view) { setCursor(0); render(); } }

// ------------------------------------------------------------------ uploads
async function uploadFile(file) {
  clearErrors();
  try {
    const response = await fetch("/api/upload?name=" + encodeURIComponent(file.name), { method: "POST", body: file });
    const body = await response.json();
    if (!response.ok) { showError("data", body.error); return; }
    state.uploadName = body.name;
    sessionStorage.setItem("upload:" + body.id, body.name);
    change({ data: body.id, domain: null, target: null, samples: null, noise: null });
  } catch (e) {
    showError("data", "the upload did not reach the server");
  }
}

// ------------------------------------------------------------------ downloads
function download(name, text, type = "text/plain") {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
function figuresPNG() {
  const panels = ["panel-fit", "panel-loss", "panel-modes", "panel-contour", "panel-coef"].map($);
  const boxes = panels.map((p) => p.getBoundingClientRect());
  const left = Math.min(...boxes.map((b) => b.left)), top = Math.min(...boxes.map((b) => b.top));
  const right = Math.max(...boxes.map((b) => b.right)), bottom = Math.max(...boxes.map((b) => b.bottom));
  const out = document.createElement("canvas"), dpr = window.devicePixelRatio || 1;
  out.width = (right - left) * dpr; out.height = (bottom - top) * dpr;
  const ctx = out.getContext("2d");
  ctx.scale(dpr, dpr); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, right - left, bottom - top);
  ctx.font = "bold 14px system-ui, sans-serif"; ctx.fillStyle = "#1d2430";
  panels.forEach((p, i) => {
    ctx.fillText(p.querySelector("h3").firstChild.textContent.trim(), boxes[i].left - left + 10, boxes[i].top - top + 18);
    for (const c of p.querySelectorAll("canvas")) {
      const b = c.getBoundingClientRect();
      ctx.drawImage(c, b.left - left, b.top - top, b.width, b.height);
    }
  });
  return out;
}

// ------------------------------------------------------------------ wiring
function wire() {
  const onText = (id, field = id) => $(id).addEventListener("change", () => change({ [field]: $(id).value.trim() }));
  ["target", "domain", "samples", "noise", "degree", "steps", "seed", "momentum"].forEach((id) => onText(id));
  ["basis", "loss"].forEach((id) => $(id).addEventListener("change", () => change({ [id]: $(id).value })));
  $("optimizer").addEventListener("change", () => {
    const patch = { optimizer: $("optimizer").value };
    if (state.query.lr !== "auto") patch.lr = null; // each optimizer starts from its own default lr
    change(patch);
  });
  $("lr").addEventListener("change", () => { $("lr-auto").checked = false; change({ lr: $("lr").value.trim() }); });
  $("lr-auto").addEventListener("change", () => change($("lr-auto").checked
    ? { lr: "auto", momentum: null } // auto picks the step and the momentum together (the textbook pair)
    : { lr: state.view && state.view.run.lr !== null ? String(state.view.run.lr) : null }));
  $("lr-slider").addEventListener("input", (ev) => {
    traceInput(ev);
    const lr = lrText(Math.pow(10, +$("lr-slider").value));
    $("lr").value = lr; $("lr-auto").checked = false;
    change({ lr }, true);
  });
  $("momentum-slider").addEventListener("input", (ev) => {
    traceInput(ev);
    $("momentum").value = $("momentum-slider").value;
    change({ momentum: $("momentum-slider").value }, true);
  });
  $("play").addEventListener("click", play);
  $("speed").addEventListener("change", () => { if (state.playing) openStream(state.cursor.t); });
  $("pause").addEventListener("click", pause);
  $("step").addEventListener("click", step);
  $("reset").addEventListener("click", reset);
  $("file").addEventListener("change", () => { if ($("file").files[0]) uploadFile($("file").files[0]); });
  $("clear-data").addEventListener("click", () => change({ data: null, domain: null }));
  const drop = $("drop");
  for (const ev of ["dragenter", "dragover"]) document.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) document.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  document.addEventListener("drop", (e) => { if (e.dataTransfer.files[0]) uploadFile(e.dataTransfer.files[0]); });
  $("dl-model").addEventListener("click", () => state.view.downloads.model_json && download("model.json", state.view.downloads.model_json, "application/json"));
  $("dl-config").addEventListener("click", () => download("config.toml", state.view.downloads.config_toml));
  $("dl-command").addEventListener("click", () => download("command.sh", state.view.downloads.command + "\n"));
  $("dl-png").addEventListener("click", () => figuresPNG().toBlob((blob) => {
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = "figures.png";
    document.body.appendChild(a); a.click(); a.remove();
  }));
  $("copy-link").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(location.href));
  document.addEventListener("keydown", (e) => {
    if (e.key === " " && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
      e.preventDefault(); state.playing ? pause() : play();
    }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { state.shape = ""; state.contourWidth = 0; state.sliderWidth = 0; if (state.view) draw(); }, 150); });
}

window.sinefit = { // for the tests and the benchmark: what the page shows, in numbers
  state, curve: () => (state.view ? curve(state.cursor.theta) : null), figuresPNG,
  latencies: () => state.latencies.slice(), traces: () => state.traces.slice(), latencyAfter,
};

state.query = readURL();
if (state.query.data) state.uploadName = sessionStorage.getItem("upload:" + state.query.data);
fillControls(state.query);
wire();
request();
