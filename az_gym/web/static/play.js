// The play page: one game per browser tab (its id lives in sessionStorage), drawn by
// board.js; the agent's move is asked for in a second request, so the human's move shows
// at once and the page keeps a live "thinking" clock while the server searches.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "az_gym.game";
let config = null, game = null, busy = false, analysis = null, analysisFor = -1, thinkTimer = null;

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw Object.assign(new Error(data.error || `HTTP ${response.status}`), { status: response.status });
  return data;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

function gameInfo() { return config.games[Number($("game").value)]; }

function fillAgents() {
  const info = gameInfo(), keep = $("agent").value, keepAnalyst = $("analyst").value;
  $("agent").replaceChildren(...info.agents.map((a) => {
    const o = new Option(a.label + (a.available ? "" : " (unavailable)"), a.index);
    o.disabled = !a.available; o.title = a.reason || "";
    return o;
  }));
  const firstOk = info.agents.find((a) => a.available);
  $("agent").value = info.agents.some((a) => String(a.index) === keep && a.available) ? keep : firstOk.index;
  const analysts = info.agents.filter((a) => a.available && a.analyses);
  $("analyst").replaceChildren(...analysts.map((a) => new Option(a.label, a.index)));
  const preferred = analysts.find((a) => a.simulations) || analysts[0];
  if (analysts.some((a) => String(a.index) === keepAnalyst)) $("analyst").value = keepAnalyst;
  else if (preferred) $("analyst").value = preferred.index;
  updateSims();
}

// The slider is logarithmic: 0..100 maps to 1..max_simulations.
function sims() {
  const t = Number($("sims").value) / 100;
  return Math.max(1, Math.round(Math.exp(t * Math.log(config.max_simulations))));
}

function analystInfo() {
  return gameInfo().agents.find((a) => String(a.index) === $("analyst").value);
}

function updateSims() {
  const a = analystInfo();
  $("sims-label").hidden = !(a && a.simulations);
  $("sims-value").textContent = sims();
}

function seconds(t) { return t < 0.1 ? `${Math.max(1, Math.round(1000 * t))} ms` : `${t.toFixed(2)} s`; }

function setTurn(turn) { document.body.dataset.turn = turn; }

function render() {
  const v = game, layout = v.layout;
  $("seat0").textContent = layout.marks[0];
  $("seat1").textContent = layout.marks[1];
  $("you-are").textContent = v.you_are;
  const humanTurn = !v.over && !v.agent_to_move;
  let status;
  if (v.over) status = "Game over.";
  else if (busy) status = `${v.agent_label} (${v.to_play_label}) is thinking…`;
  else if (humanTurn) status = `Your move (${v.to_play_label}).`;
  else status = `${v.agent_label} (${v.to_play_label}) to move.`;
  $("status").textContent = status;
  setTurn(v.over ? "over" : busy || v.agent_to_move ? "agent" : "human");
  if (!busy) {
    $("thinking").textContent = v.thinking_seconds === null ? "" :
      `${v.agent_label} thought ${seconds(v.thinking_seconds)} over its last move.`;
  }
  const result = $("result");
  result.textContent = v.result || "";
  result.className = "result" + (v.result ? (v.result.startsWith("You win") ? " win" : v.result.startsWith("You lose") ? " loss" : "") : "");
  $("undo").disabled = busy || !v.can_undo;
  $("new-game").disabled = busy;
  // moves
  $("moves").replaceChildren(...v.moves.map((m, i) => {
    const li = document.createElement("li"), n = document.createElement("span");
    n.className = "n"; n.textContent = `${i + 1}. `;
    li.append(n, `${m.label} ${m.name}`);
    if (i === v.moves.length - 1) li.className = "last";
    return li;
  }));
  $("moves").lastElementChild && $("moves").lastElementChild.scrollIntoView({ block: "nearest" });
  // board or generic view
  const overlay = $("show-analysis").checked && analysis && analysisFor === v.moves.length ? analysis : null;
  const clickable = humanTurn && !busy;
  if (layout.kind === "generic") {
    $("board").replaceChildren();
    $("generic").hidden = false;
    $("generic-text").textContent = v.text;
    $("generic-moves").replaceChildren(...v.legal.map((m) => {
      const b = document.createElement("button");
      b.textContent = m.name; b.dataset.action = m.action; b.disabled = !clickable;
      b.className = "legal-move";
      b.addEventListener("click", () => move(m.action));
      return b;
    }));
  } else {
    $("generic").hidden = true;
    drawBoard($("board"), layout, v, { clickable, onMove: move, analysis: overlay });
    // Othello's pass is no cell: a button when it is the only move
    const pass = v.legal.find((m) => m.name === "pass");
    if (pass && clickable) {
      const b = document.createElement("button");
      b.textContent = "pass"; b.className = "legal-move primary";
      b.addEventListener("click", () => move(pass.action));
      $("board").appendChild(b);
    }
  }
  renderAnalysisTable();
}

function renderAnalysisTable() {
  const table = $("analysis-table"), summary = $("analysis-summary");
  if (!$("show-analysis").checked) { table.replaceChildren(); summary.textContent = ""; return; }
  if (!analysis || analysisFor !== (game && game.moves.length)) {
    table.replaceChildren(); summary.textContent = game && game.over ? "" : summary.textContent;
    return;
  }
  const a = analysis;
  const fmt = (x) => (x >= 0 ? "+" : "") + x.toFixed(3);
  if (a.kind === "search") {
    summary.textContent = `${a.agent_label}, ${a.simulations} simulations (${seconds(a.seconds)}): ` +
      `value for ${a.to_play_label} to move ${fmt(a.value)} (${a.network_value_label} ${fmt(a.network_value)})`;
    const head = "<tr><th>move</th><th>visits</th><th>share</th><th>Q</th><th>prior</th></tr>";
    table.innerHTML = head + a.moves.map((m, i) =>
      `<tr class="${i === 0 ? "best" : ""}"><td>${esc(m.name)}</td><td>${m.visits}</td>` +
      `<td>${(100 * m.share).toFixed(1)}%</td>` +
      `<td>${fmt(m.q)}</td><td>${m.prior.toFixed(3)}</td></tr>`).join("");
  } else {
    summary.textContent = `${a.summary} (${seconds(a.seconds)})`;
    table.innerHTML = `<tr><th>move</th>${a.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>` +
      a.moves.map((m, i) => `<tr class="${i === 0 ? "best" : ""}"><td>${esc(m.name)}</td>${m.cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
  }
}

async function refreshAnalysis() {
  if (!$("show-analysis").checked || !game || game.over || $("analyst").value === "") {
    analysis = null; render(); return;
  }
  const at = game.moves.length, id = game.id;
  const a = analystInfo();
  $("analysis-summary").textContent = "analysing…";
  try {
    const result = await api("POST", `/api/games/${id}/analyse`,
      { agent: Number($("analyst").value), simulations: a && a.simulations ? sims() : null });
    if (game.id === id && game.moves.length === at) { analysis = result; analysisFor = at; render(); }
  } catch (err) { showError(err); }
}

function startThinking() {
  const t0 = performance.now();
  clearInterval(thinkTimer);
  thinkTimer = setInterval(() => {
    $("thinking").textContent = `thinking… ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  }, 100);
}

async function agentMove() {
  const id = game.id;
  let view = game;
  busy = true; startThinking(); render();
  try {
    view = await api("POST", `/api/games/${id}/agent`);
  } catch (err) {
    if (err.status !== 409) showError(err);
    // 409: the agent is already thinking for this game (a reloaded tab): wait for its move
    while (err.status === 409 && view.agent_to_move) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      try { view = await api("GET", `/api/games/${id}`); } catch (e) { showError(e); break; }
    }
  }
  busy = false; clearInterval(thinkTimer);
  if (game.id === id) game = view;  // a reply for this tab's current game only
  render(); refreshAnalysis();
}

async function move(action) {
  if (busy || !game || game.over || game.agent_to_move) return;
  showError(null);
  try {
    game = await api("POST", `/api/games/${game.id}/move`, { action });
  } catch (err) { showError(err); return; }
  render();
  if (game.agent_to_move) await agentMove(); else refreshAnalysis();
}

async function adopt(view) {
  game = view; analysis = null;
  sessionStorage.setItem(KEY, view.id);
  render();
  if (game.agent_to_move) await agentMove(); else refreshAnalysis();
}

async function newGame() {
  showError(null);
  const old = sessionStorage.getItem(KEY);
  const seat = Number(document.querySelector("input[name=seat]:checked").value);
  try {
    const view = await api("POST", "/api/games", { game: Number($("game").value), agent: Number($("agent").value), seat });
    if (old) api("DELETE", `/api/games/${old}`).catch(() => {});
    await adopt(view);
  } catch (err) { showError(err); }
}

async function undo() {
  showError(null);
  try { game = await api("POST", `/api/games/${game.id}/undo`); } catch (err) { showError(err); return; }
  analysis = null; render(); refreshAnalysis();
}

async function start() {
  config = await api("GET", "/api/config");
  $("run-link").hidden = !config.run;
  $("game").replaceChildren(...config.games.map((g) => new Option(g.label, g.index)));
  const params = new URLSearchParams(location.search);
  if (params.has("game")) $("game").value = params.get("game");
  fillAgents();
  if (params.has("agent")) $("agent").value = params.get("agent");
  $("game").addEventListener("change", fillAgents);
  $("analyst").addEventListener("change", () => { updateSims(); refreshAnalysis(); });
  let debounce = null;
  $("sims").addEventListener("input", () => {
    updateSims(); clearTimeout(debounce); debounce = setTimeout(refreshAnalysis, 250);
  });
  $("show-analysis").addEventListener("change", refreshAnalysis);
  $("new-game").addEventListener("click", newGame);
  $("undo").addEventListener("click", undo);
  const saved = sessionStorage.getItem(KEY);
  if (saved && !params.has("game")) {
    try {
      const view = await api("GET", `/api/games/${saved}`);
      $("game").value = view.game; fillAgents(); $("agent").value = view.agent;
      document.querySelector(`input[name=seat][value="${view.human}"]`).checked = true;
      await adopt(view);
      return;
    } catch (err) { /* forgotten by the server: start afresh */ }
  }
  await newGame();
}

start().catch(showError);
