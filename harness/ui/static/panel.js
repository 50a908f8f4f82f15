// The Game day panel: polls ./state every second and renders the test's load and phase,
// experiments, the chaos timeline and a chart (uPlot) whose markers are the chaos events.
// The SLOs are Locust's own table of the tab, above the panel: drawn once.
// Everything the server sends is put in the page as text, never as HTML.
(function () {
  "use strict";
  const POLL_MS = 1000;
  let chart = null;
  let markers = [];     // [{ts, label, cls}]
  let faultBands = [];  // [[start, end]]

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function clock(ts) {
    return new Date(ts * 1000).toLocaleTimeString();
  }

  function showMessage(text) {
    const box = document.getElementById("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
    showMessage(response.ok ? "" : data.error);
    refresh();
  }

  function renderTest(state) {
    const t = state.test;
    const where = t.run_dir ? ` · recording to ${t.run_dir}` : "";
    const phase = t.running && t.phase ? ` · phase: ${t.phase}` : "";
    const text = t.running ? `Test running${phase}${where}` : `No test running (start one with Locust's controls)${where}`;
    document.getElementById("test-line").textContent = (state.gameday ? `Game day ${state.gameday} · ` : "") + text;
    document.getElementById("load-line").textContent =
      `Load: ${t.shape || "set in Locust's form (users and ramp-up)"}`;
  }

  function renderExperiments(state) {
    const exp = state.experiment;
    const busy = exp.state === "running" || exp.state === "aborting";
    const current = document.getElementById("current");
    current.replaceChildren();
    if (exp.name) {
      current.append(el("b", exp.name), el("span", ` — ${exp.state}`, "experiment-state"));
      if (exp.note) current.append(el("span", ` (${exp.note})`, "experiment-note"));
      if (exp.activity) current.append(el("span", ` · now: ${exp.activity}`, "experiment-activity"));
      if (busy) {
        const abort = el("button", "Abort (roll back)", "abort");
        abort.disabled = exp.state === "aborting";
        abort.onclick = () => post("experiments/abort");
        current.append(el("span", " "), abort);
      }
    }
    fill(document.querySelector("#experiments tbody"), state.experiments.map((e) => {
      const tr = el("tr");
      tr.dataset.name = e.name;
      const run = el("button", "Run", "run");
      run.disabled = busy || !state.test.running;
      run.title = state.test.running ? "" : "start a test first";
      run.onclick = () => post("experiments/run", {name: e.name});
      const cell = el("td");
      cell.append(run);
      tr.append(el("td", e.name), el("td", e.title), cell);
      return tr;
    }));
  }

  function renderTimeline(events) {
    fill(document.querySelector("#timeline tbody"), events.slice().reverse().map((e) => {
      const tr = el("tr");
      const phase = e.detail && e.detail.phase ? ` (${e.detail.phase})` : "";
      tr.append(el("td", clock(e.ts)), el("td", e.source), el("td", e.kind), el("td", (e.name || "") + phase));
      return tr;
    }));
  }

  function renderRuns(runs) {
    document.getElementById("runs").replaceChildren(...runs.map((r) => {
      const li = el("li", undefined, "run");
      if (r.href) {
        const a = el("a", `${r.run} — report`);
        a.href = r.href;
        a.target = "_blank";
        li.append(a);
      } else {
        li.append(el("span", `${r.run} — ${r.state}`));
      }
      if (r.status) li.append(el("span", ` (${r.status})`));
      return li;
    }));
  }

  // ---- chart ----------------------------------------------------------------------
  function markerOf(e) {
    if (e.source === "chaos" && e.kind === "activity-start") {
      const phase = (e.detail && e.detail.phase) || "";
      const cls = {method: "marker-fault", rollback: "marker-rollback"}[phase] || "marker-probe";
      return {ts: e.ts, label: `${e.name} (${phase})`, cls: cls};
    }
    if (e.source === "harness" && /^chaos-(start|end|abort)$/.test(e.kind)) return {ts: e.ts, label: e.kind, cls: "marker-harness"};
    if (e.kind === "abort") return {ts: e.ts, label: "guardrail abort", cls: "marker-fault"};
    return null;
  }

  function bandsOf(events, now) {
    const bands = [];
    let start = null;
    for (const e of events) {
      if (e.source === "harness" && e.kind === "chaos-start") start = e.ts;
      if (e.source === "harness" && e.kind === "chaos-end" && start !== null) { bands.push([start, e.ts]); start = null; }
    }
    if (start !== null) bands.push([start, now]);
    return bands;
  }

  function drawMarkers(u) {
    const ctx = u.ctx;
    const top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (const [a, b] of faultBands) {
      const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
      ctx.fillStyle = "rgba(198, 40, 40, 0.08)";
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    for (const m of markers) {
      const x = u.valToPos(m.ts, "x", true);
      ctx.strokeStyle = m.cls === "marker-rollback" ? "#1565c0" : m.cls === "marker-fault" ? "#c62828" : "#888";
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }

  function chartData(series) {
    const cols = [[], [], [], []];
    for (const p of series) { cols[0].push(p[0]); cols[1].push(p[1]); cols[2].push(p[2]); cols[3].push(p[4]); }
    return cols;
  }

  function renderChart(state) {
    const now = Date.now() / 1000;
    markers = state.events.map(markerOf).filter(Boolean);
    faultBands = bandsOf(state.events, now);
    document.getElementById("markers").replaceChildren(...markers.map((m) => {
      const li = el("li", `${clock(m.ts)} ${m.label}`, "marker " + m.cls);
      li.dataset.ts = m.ts;
      return li;
    }));
    const data = chartData(state.series);
    if (!chart) {
      const box = document.getElementById("chart");
      chart = new uPlot({
        width: Math.max(400, box.clientWidth || 900), height: 280,
        series: [{}, {label: "req/s", stroke: "#2e7d32"}, {label: "failures/s", stroke: "#c62828"},
                 {label: "p99 ms", stroke: "#6a1b9a", scale: "ms"}],
        axes: [{}, {label: "req/s"}, {side: 1, scale: "ms", label: "ms", grid: {show: false}}],
        hooks: {draw: [drawMarkers]},
      }, data, box);
    } else {
      chart.setData(data);
    }
  }

  async function refresh() {
    try {
      const response = await fetch("state", {cache: "no-store"});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      renderTest(state);
      renderExperiments(state);
      renderTimeline(state.events);
      renderRuns(state.runs);
      renderChart(state);
    } catch (err) {
      document.getElementById("test-line").textContent = `cannot reach the Locust process: ${err.message}`;
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
