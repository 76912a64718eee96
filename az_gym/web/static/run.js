// The run page: polls /api/run every few seconds and redraws the charts (charts.js).
"use strict";

const POLL_MS = 3000;
const byId = (id) => document.getElementById(id);

function simple(chart) {
  return { series: chart.series, ylabel: chart.ylabel };
}

function arena(chart) {
  const pts = chart.points;
  const series = pts.length ? [{ label: "candidate's score", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), noMarkers: true, width: 1.5 }] : [];
  const hlines = chart.thresholds.map((t) => ({ y: t, label: `promotion threshold ${t.toFixed(3)}`, dash: "6 4", colour: "#e8590c" }));
  const two = pts.every((p) => p[1] >= 0 && p[1] <= 1);
  if (pts.length && two) hlines.push({ y: 0.5, label: "even (0.5)", dash: "2 3", colour: "#868e96" });
  return {
    series, hlines, ylabel: chart.ylabel, ylim: pts.length && two ? [0, 1] : null,
    points: pts.map((p) => ({ x: p[0], y: p[1], marker: p[2] ? "up" : "x", colour: p[2] ? "#2b8a3e" : "#c92a2a" })),
    markerLegend: pts.length ? [{ label: "promoted", marker: "up", colour: "#2b8a3e" }, { label: "not promoted", marker: "x", colour: "#c92a2a" }] : [],
  };
}

async function poll() {
  try {
    const response = await fetch("/api/run");
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    byId("error").textContent = "";
    byId("run-path").textContent = data.path;
    byId("run-iteration").textContent = `iteration ${data.iteration}`;
    byId("run-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    byId("run-notes").textContent = data.notes.join(" ");
    for (const [name, chart] of Object.entries(data.charts)) {
      byId(`t-${name}`).textContent = chart.title;
      lineChart(byId(`c-${name}`), name === "arena" ? arena(chart) : simple(chart));
    }
  } catch (err) {
    byId("error").textContent = String(err.message || err);
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  const config = await (await fetch("/api/config")).json();
  if (config.run) byId("play-best").href = `/?game=${config.run.game}&agent=${config.run.agent}`;
  poll();
}

start();
