// Board drawing in SVG for the four native games (no library). One cell is S units wide.
// drawBoard(container, layout, view, options) reads only what the server sends:
// layout = {kind, rows, cols, col_labels, row_labels, cell_actions}, view = {grid, last,
// winning, legal, ...}; options = {clickable, onMove(action), analysis}.
"use strict";

const S = 100;
const NS = "http://www.w3.org/2000/svg";
const STYLES = {
  tictactoe: { bg: "#fbfbfd", line: "#2b3340", pieces: ["#d23b3b", "#2f6fd6"] },
  connect_four: { bg: "#2456c9", line: "#1b47a8", hole: "#eef1f7", pieces: ["#e03131", "#f5c518"] },
  othello: { bg: "#1f8a4c", line: "#0f5a2f", pieces: ["#151515", "#f4f4f4"] },
  gomoku: { bg: "#e2b86f", line: "#7a5425", pieces: ["#151515", "#f7f7f7"] },
};

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, str, cls, extra) {
  const t = el("text", Object.assign({ x, y, class: cls }, extra || {}), parent);
  t.textContent = str;
  return t;
}

// Centre of cell (r, c) in SVG units (the board starts at offset M).
function centre(r, c, M) {
  return [M + (c + 0.5) * S, M + (r + 0.5) * S];
}

function drawPiece(g, kind, player, x, y, style) {
  const colour = style.pieces[player];
  if (kind === "tictactoe") {
    if (player === 0) {
      const d = 0.27 * S;
      el("path", { d: `M${x - d},${y - d}L${x + d},${y + d}M${x + d},${y - d}L${x - d},${y + d}`,
        stroke: colour, "stroke-width": 0.1 * S, "stroke-linecap": "round", fill: "none" }, g);
    } else {
      el("circle", { cx: x, cy: y, r: 0.28 * S, stroke: colour, "stroke-width": 0.09 * S, fill: "none" }, g);
    }
    return;
  }
  const r = kind === "gomoku" ? 0.44 * S : 0.4 * S;
  const stroke = player === 1 && kind !== "connect_four" ? "#9a9a9a" : "rgba(0,0,0,0.35)";
  el("circle", { cx: x, cy: y, r, fill: colour, stroke, "stroke-width": 0.025 * S, class: `piece p${player}` }, g);
  if (kind !== "connect_four") {  // a soft highlight gives stones and discs some volume
    el("circle", { cx: x - 0.12 * S, cy: y - 0.12 * S, r: 0.12 * S,
      fill: player === 0 ? "rgba(255,255,255,0.18)" : "rgba(255,255,255,0.7)" }, g);
  }
}

function drawBoard(container, layout, view, options) {
  const kind = layout.kind, rows = layout.rows, cols = layout.cols;
  const style = STYLES[kind];
  const M = 0.45 * S;  // room for the coordinates
  const W = cols * S + 2 * M, H = rows * S + 2 * M;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${kind} board` });
  svg.classList.add(`board-${kind}`);
  if (options.clickable) svg.classList.add("clickable");
  el("rect", { x: 0, y: 0, width: W, height: H, rx: 0.12 * S, fill: kind === "tictactoe" ? "#ffffff" : style.bg }, svg);
  const board = el("g", {}, svg);
  // the grid
  if (kind === "gomoku") {  // stones on the intersections: lines through the cell centres
    for (let i = 0; i < rows; i++) {
      const [, y] = centre(i, 0, M);
      el("line", { x1: M + S / 2, y1: y, x2: M + (cols - 0.5) * S, y2: y, stroke: style.line, "stroke-width": 2 }, board);
    }
    for (let j = 0; j < cols; j++) {
      const [x] = centre(0, j, M);
      el("line", { x1: x, y1: M + S / 2, x2: x, y2: M + (rows - 0.5) * S, stroke: style.line, "stroke-width": 2 }, board);
    }
    const mid = Math.floor(rows / 2);
    for (const [r, c] of [[mid, mid], [2, 2], [2, cols - 3], [rows - 3, 2], [rows - 3, cols - 3]]) {
      const [x, y] = centre(r, c, M);
      el("circle", { cx: x, cy: y, r: 0.07 * S, fill: style.line }, board);
    }
  } else if (kind === "tictactoe") {
    for (let i = 1; i < rows; i++) {
      el("line", { x1: M + 0.08 * S, y1: M + i * S, x2: M + cols * S - 0.08 * S, y2: M + i * S,
        stroke: style.line, "stroke-width": 0.05 * S, "stroke-linecap": "round" }, board);
      el("line", { x1: M + i * S, y1: M + 0.08 * S, x2: M + i * S, y2: M + rows * S - 0.08 * S,
        stroke: style.line, "stroke-width": 0.05 * S, "stroke-linecap": "round" }, board);
    }
  } else if (kind === "othello") {
    el("rect", { x: M, y: M, width: cols * S, height: rows * S, fill: style.bg, stroke: style.line, "stroke-width": 4 }, board);
    for (let i = 1; i < rows; i++) el("line", { x1: M, y1: M + i * S, x2: M + cols * S, y2: M + i * S, stroke: style.line, "stroke-width": 2 }, board);
    for (let j = 1; j < cols; j++) el("line", { x1: M + j * S, y1: M, x2: M + j * S, y2: M + rows * S, stroke: style.line, "stroke-width": 2 }, board);
  } else {  // connect four: holes
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      const [x, y] = centre(r, c, M);
      el("circle", { cx: x, cy: y, r: 0.4 * S, fill: style.hole }, board);
    }
  }
  // coordinates
  const fontSize = (kind === "tictactoe" ? 0.2 : 0.26) * S;
  const labelColour = { tictactoe: "#6b7280", gomoku: "#5a3d18" }[kind] || "rgba(255,255,255,0.85)";
  for (let c = 0; c < cols; c++) {
    const [x] = centre(0, c, M);
    if (kind !== "connect_four") text(svg, x, M / 2, layout.col_labels[c], "coord", { fill: labelColour, "font-size": fontSize });
    text(svg, x, H - M / 2, layout.col_labels[c], "coord", { fill: labelColour, "font-size": fontSize });
  }
  for (let r = 0; r < rows; r++) {
    if (!layout.row_labels[r]) continue;
    const [, y] = centre(r, 0, M);
    text(svg, M / 2, y, layout.row_labels[r], "coord", { fill: labelColour, "font-size": fontSize });
    text(svg, W - M / 2, y, layout.row_labels[r], "coord", { fill: labelColour, "font-size": fontSize });
  }
  // pieces
  const pieces = el("g", { class: "pieces" }, svg);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const v = view.grid[r][c];
    if (v) drawPiece(pieces, kind, v - 1, ...centre(r, c, M), style);
  }
  // legal-move hints (Othello: where a disc may go)
  const legal = new Set(view.legal.map((m) => m.action));
  if (kind === "othello" && options.clickable && !options.analysis) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      if (legal.has(layout.cell_actions[r][c])) {
        const [x, y] = centre(r, c, M);
        el("circle", { cx: x, cy: y, r: 0.1 * S, fill: "rgba(0,0,0,0.28)", class: "hint" }, svg);
      }
    }
  }
  // last move and winning line
  if (view.last) {
    const [x, y] = centre(view.last[0], view.last[1], M);
    const mark = kind === "connect_four" || kind === "tictactoe" ? "#222" : "#e8590c";
    el("circle", { cx: x, cy: y, r: 0.11 * S, fill: kind === "tictactoe" ? "none" : mark,
      stroke: kind === "tictactoe" ? "#e8590c" : "none", "stroke-width": 0.04 * S, class: "last-move",
      opacity: kind === "tictactoe" ? 0 : 0.9 }, svg);
    if (kind === "tictactoe") {
      el("rect", { x: x - 0.46 * S, y: y - 0.46 * S, width: 0.92 * S, height: 0.92 * S, rx: 0.08 * S,
        fill: "rgba(232, 89, 12, 0.10)", stroke: "none", class: "last-move-cell" }, board);
    }
  }
  if (view.winning && view.winning.length) {
    const first = view.winning[0], last = view.winning[view.winning.length - 1];
    const [x1, y1] = centre(first[0], first[1], M), [x2, y2] = centre(last[0], last[1], M);
    el("line", { x1, y1, x2, y2, stroke: "#1fbf5a", "stroke-width": 0.14 * S, "stroke-linecap": "round",
      opacity: 0.8, class: "winning-line" }, svg);
  }
  // analysis overlay
  if (options.analysis) drawAnalysis(svg, layout, view, options.analysis, M, kind);
  // click targets (on top of everything): cells, or whole columns in Connect Four
  const cells = el("g", { class: "cells" }, svg);
  const target = (x, y, w, h, action, extra) => {
    const rect = el("rect", Object.assign({ x, y, width: w, height: h, "data-action": action,
      class: "cell" + (legal.has(action) ? " legal" : "") }, extra), cells);
    if (legal.has(action)) {
      rect.setAttribute("data-name", view.legal.find((m) => m.action === action).name);
      if (options.clickable) rect.addEventListener("click", () => options.onMove(action));
    }
  };
  if (kind === "connect_four") {
    for (let c = 0; c < cols; c++) target(M + c * S, M, S, rows * S, layout.cell_actions[0][c], { "data-col": c });
  } else {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      target(M + c * S, M + r * S, S, S, layout.cell_actions[r][c], { "data-row": r, "data-col": c });
    }
  }
  container.replaceChildren(svg);
  return svg;
}

// Where an analysed move is drawn: its cell, or (Connect Four) the cell its disc would fill.
function moveCell(layout, view, action) {
  if (layout.kind === "connect_four") {
    for (let r = layout.rows - 1; r >= 0; r--) if (!view.grid[r][action]) return [r, action];
    return null;
  }
  const c = action % layout.cols, r = Math.floor(action / layout.cols);
  return r < layout.rows ? [r, c] : null;
}

function drawAnalysis(svg, layout, view, analysis, M, kind) {
  const g = el("g", { class: "overlay", id: "overlay" }, svg);
  const best = analysis.moves.length ? analysis.moves[0].action : null;
  for (const m of analysis.moves) {
    const cell = moveCell(layout, view, m.action);
    // unsearched moves stay off the board (a 9x9 board would drown in "0%"): the table lists them
    if (!cell || (analysis.kind === "search" && m.visits === 0)) continue;
    const [x, y] = centre(cell[0], cell[1], M);
    const item = el("g", { class: "an-move", "data-action": m.action }, g);
    const isBest = m.action === best;
    el("circle", { cx: x, cy: y, r: 0.4 * S, fill: "rgba(22, 30, 48, 0.78)" }, item);
    if (analysis.kind === "search") {
      // the visit share as an arc around the disc (a full ring: every visit)
      const share = Math.min(m.share, 0.9999), a = 2 * Math.PI * share, R = 0.36 * S;
      const x2 = x + R * Math.sin(a), y2 = y - R * Math.cos(a);
      if (share > 0.001) {
        el("path", { d: `M${x},${y - R}A${R},${R} 0 ${a > Math.PI ? 1 : 0} 1 ${x2},${y2}`, fill: "none",
          stroke: isBest ? "#ff9f1c" : "#7aa7ff", "stroke-width": 0.07 * S, "stroke-linecap": "round" }, item);
      }
      text(item, x, y - 0.07 * S, `${Math.round(100 * m.share)}%`, "an-share",
        { "font-size": 0.24 * S, fill: isBest ? "#ffc46b" : "#ffffff" });
      text(item, x, y + 0.17 * S, `${m.q >= 0 ? "+" : ""}${m.q.toFixed(2)}`, "an-q",
        { "font-size": 0.16 * S, fill: "#d5dcea" });
    } else {
      text(item, x, y, m.cells[0], "an-q", { "font-size": 0.17 * S, fill: isBest ? "#ffc46b" : "#ffffff" });
    }
    const tip = el("title", {}, item);
    tip.textContent = analysis.kind === "search"
      ? `${m.name}: visits ${m.visits} (${(100 * m.share).toFixed(1)}%), Q ${m.q.toFixed(3)}, prior ${m.prior.toFixed(3)}`
      : `${m.name}: ${analysis.columns.map((c, i) => `${c} ${m.cells[i]}`).join(", ")}`;
  }
}
