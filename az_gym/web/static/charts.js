// Line charts in SVG, drawn here (no chart library): axes with round ticks, one polyline
// with markers per series, a legend; extra horizontal lines and point markers for the arena.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f6fd6", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#868e96"];

function node(name, attrs, parent) {
  const n = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  if (parent) parent.appendChild(n);
  return n;
}

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
  const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];  // from the tick at or below lo to the one at or above hi
  const first = Math.floor(lo / step + 1e-9) * step, last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = first; t <= last + 1e-9 * step; t += step) ticks.push(+t.toFixed(10));
  return { lo: first, hi: last, ticks };
}

function fmtTick(t) {
  const a = Math.abs(t);
  return a >= 1e4 ? t.toExponential(1) : a >= 100 ? t.toFixed(0) : a >= 1 ? +t.toFixed(2) + "" : +t.toFixed(3) + "";
}

// chart = {series: [{label, x, y}], ylabel, hlines: [{y, label, dash, colour}],
//          points: [{x, y, marker, colour}], ylim: [lo, hi]}
function lineChart(container, chart) {
  const W = 560, H = 300, L = 62, R = 14, T = 12, B = 62;
  const xs = [], ys = [];
  for (const s of chart.series) { xs.push(...s.x); ys.push(...s.y); }
  for (const p of chart.points || []) { xs.push(p.x); ys.push(p.y); }
  for (const h of chart.hlines || []) ys.push(h.y);
  if (!xs.length) {
    const p = document.createElement("p");
    p.className = "empty"; p.textContent = "no data yet";
    container.replaceChildren(p); return;
  }
  const xr = niceTicks(Math.min(...xs, 0), Math.max(...xs, 1), 6);
  xr.ticks = xr.ticks.filter((t) => Number.isInteger(t));
  const yr = chart.ylim ? niceTicks(chart.ylim[0], chart.ylim[1], 5) : niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const X = (x) => L + (x - xr.lo) / (xr.hi - xr.lo) * (W - L - R);
  const Y = (y) => T + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * (H - T - B);
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const t of yr.ticks) {
    node("line", { x1: L, x2: W - R, y1: Y(t), y2: Y(t), stroke: "#e9ecf2" }, svg);
    const label = node("text", { x: L - 6, y: Y(t), "text-anchor": "end", "dominant-baseline": "central", "font-size": 11, fill: "#5d6778" }, svg);
    label.textContent = fmtTick(t);
  }
  for (const t of xr.ticks) {
    node("line", { x1: X(t), x2: X(t), y1: T, y2: H - B, stroke: "#f1f3f7" }, svg);
    const label = node("text", { x: X(t), y: H - B + 15, "text-anchor": "middle", "font-size": 11, fill: "#5d6778" }, svg);
    label.textContent = t;
  }
  node("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#c5ccd8" }, svg);
  const xl = node("text", { x: (L + W - R) / 2, y: H - B + 32, "text-anchor": "middle", "font-size": 12, fill: "#1d2430" }, svg);
  xl.textContent = "iteration";
  const yl = node("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12, fill: "#1d2430",
    transform: `rotate(-90 14 ${(T + H - B) / 2})` }, svg);
  yl.textContent = chart.ylabel;
  const legend = [];
  (chart.hlines || []).forEach((h) => {
    node("line", { x1: L, x2: W - R, y1: Y(h.y), y2: Y(h.y), stroke: h.colour, "stroke-dasharray": h.dash, "stroke-width": 1.5 }, svg);
    legend.push({ label: h.label, colour: h.colour, dash: h.dash });
  });
  chart.series.forEach((s, i) => {
    const colour = s.colour || COLOURS[i % COLOURS.length];
    const pts = s.x.map((x, k) => `${X(x)},${Y(s.y[k])}`).join(" ");
    node("polyline", { points: pts, fill: "none", stroke: colour, "stroke-width": s.width || 2, class: "series" }, svg);
    if (!s.noMarkers) s.x.forEach((x, k) => node("circle", { cx: X(x), cy: Y(s.y[k]), r: 3, fill: colour }, svg));
    if (s.label) legend.push({ label: s.label, colour });
  });
  for (const p of chart.points || []) {
    const x = X(p.x), y = Y(p.y);
    if (p.marker === "up") node("path", { d: `M${x},${y - 6}L${x + 6},${y + 5}L${x - 6},${y + 5}Z`, fill: p.colour, class: "point" }, svg);
    else node("path", { d: `M${x - 5},${y - 5}L${x + 5},${y + 5}M${x + 5},${y - 5}L${x - 5},${y + 5}`, stroke: p.colour, "stroke-width": 2.5, class: "point" }, svg);
  }
  for (const m of chart.markerLegend || []) legend.push(m);
  // legend below the plot, wrapping into rows (the picture grows to fit them)
  let lx = L, row = 0;
  legend.forEach((item) => {
    const width = 28 + 6.2 * item.label.length;
    if (lx + width > W - R && lx > L) { lx = L; row += 1; }
    item.x = lx; item.y = H - B + 50 + 17 * row; lx += width + 12;
  });
  svg.setAttribute("viewBox", `0 0 ${W} ${H + 17 * row}`);
  legend.forEach((item) => {
    const g = node("g", {}, svg), x = item.x, y = item.y;
    if (item.marker === "up") node("path", { d: `M${x + 9},${y - 6}L${x + 15},${y + 4}L${x + 3},${y + 4}Z`, fill: item.colour }, g);
    else if (item.marker) node("path", { d: `M${x + 4},${y - 5}L${x + 14},${y + 5}M${x + 14},${y - 5}L${x + 4},${y + 5}`, stroke: item.colour, "stroke-width": 2 }, g);
    else node("line", { x1: x, x2: x + 18, y1: y, y2: y, stroke: item.colour, "stroke-width": 2.5, "stroke-dasharray": item.dash || "" }, g);
    const t = node("text", { x: x + 22, y, "dominant-baseline": "central", "font-size": 11, fill: "#1d2430" }, g);
    t.textContent = item.label;
  });
  container.replaceChildren(svg);
}
