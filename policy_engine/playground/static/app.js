// The playground page. The editor is a contenteditable <pre> re-drawn from the text on every
// edit: highlighting and diagnostics come from the server (the project's lexer and checker),
// and until a fresh answer arrives the previous ones are shifted past the edit, so colours do
// not flicker while typing. Diagnostic messages sit under their line as non-editable blocks
// that the text reader skips. Nothing here writes to disk; every request sends the whole text.
"use strict";

const $ = (id) => document.getElementById(id);
const editor = $("editor");
const state = { text: "", tokens: [], diags: [], decides: new Set(), vocabulary: null, history: [],
                composing: false, checked: null, timer: null, onDisk: false };
const ACTION_NEEDS = { collect: "source", use: "purpose", share: "recipient", retain: "purpose" };

function esc(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

async function post(path, payload) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify(payload) });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
  return data;
}

// ---- reading and placing the caret, skipping the message blocks ------------------------------

function textNodes() {
  const walker = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest(".msg") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT) });
  const out = [];
  while (walker.nextNode()) out.push(walker.currentNode);
  return out;
}

function readText() { return textNodes().map((n) => n.data).join(""); }

function offsetOf(node, offset) {
  const range = document.createRange();
  range.setStart(editor, 0);
  range.setEnd(node, offset);
  const fragment = range.cloneContents();
  fragment.querySelectorAll(".msg").forEach((m) => m.remove());
  return fragment.textContent.length;
}

function selection() {
  const sel = window.getSelection();
  if (!sel.rangeCount || !editor.contains(sel.anchorNode)) return null;
  const r = sel.getRangeAt(0);
  return [offsetOf(r.startContainer, r.startOffset), offsetOf(r.endContainer, r.endOffset)];
}

function setCaret(offset) {
  const lines = editor.querySelectorAll(".line"), last = lines[lines.length - 1];
  if (offset >= state.text.length && last && last.textContent === "") {
    window.getSelection().collapse(last, 0); // an empty last line holds no text node to stand in
    return;
  }
  const nodes = textNodes();
  let seen = 0;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (offset < seen + n.data.length || (offset === seen + n.data.length && i === nodes.length - 1)) {
      window.getSelection().collapse(n, offset - seen);
      return;
    }
    seen += n.data.length;
  }
  window.getSelection().collapse(editor, editor.childNodes.length);
}

// ---- drawing ---------------------------------------------------------------------------------

function draw() {
  const text = state.text;
  const cls = new Array(text.length + 1).fill("");
  for (const [start, end, c] of state.tokens) for (let i = start; i < end && i < text.length; i++) cls[i] = c;
  const err = new Array(text.length + 1).fill("");
  for (const d of state.diags) {
    const end = Math.max(d.end, d.start + 1);
    for (let i = d.start; i < end && i < text.length; i++) {
      if (err[i] !== "e-error") err[i] = d.severity === "error" ? "e-error" : "e-warning";
    }
  }
  const byLine = new Map();
  for (const d of state.diags) {
    const line = d.line || 1;
    if (!byLine.has(line)) byLine.set(line, []);
    byLine.get(line).push(d);
  }
  const lines = text.split("\n");
  const html = [];
  let pos = 0;
  lines.forEach((line, index) => {
    const n = index + 1;
    html.push(`<span class="line${state.decides.has(n) ? " decides" : ""}" data-n="${n}">`);
    let i = 0;
    while (i < line.length) {
      let j = i + 1;
      while (j < line.length && cls[pos + j] === cls[pos + i] && err[pos + j] === err[pos + i]) j++;
      const c = [cls[pos + i], err[pos + i]].filter(Boolean).join(" ");
      const part = esc(line.slice(i, j));
      html.push(c ? `<span class="${c}">${part}</span>` : part);
      i = j;
    }
    html.push("</span>");
    if (index < lines.length - 1) html.push("\n");
    for (const d of byLine.get(n) || []) html.push(message(d));
    pos += line.length + 1;
  });
  if (text.endsWith("\n")) html.push("<br>"); // gives the empty last line its height
  editor.innerHTML = html.join("");
}

function message(d) {
  const fixes = (d.fixes || []).map((f) =>
    `<button type="button" class="fix" data-start="${d.start}" data-end="${d.end}" data-text="${esc(f)}">` +
    `Change to <code>${esc(f)}</code></button>`).join("");
  const where = d.line ? `line ${d.line}, column ${d.column}: ` : "";
  return `<span class="msg ${d.severity}" contenteditable="false" data-code="${esc(d.code)}">` +
    `<b>${d.severity}</b> ${esc(where)}${esc(d.message)} <code>${esc(d.code)}</code>` +
    (d.help ? `\nhelp: ${esc(d.help)}` : "") + (fixes ? `\n${fixes}` : "") + "</span>";
}

// ---- editing -----------------------------------------------------------------------------------

function shift(oldText, newText) {
  // Keep highlighting and diagnostics that lie wholly before or after the edited stretch.
  let p = 0;
  while (p < oldText.length && p < newText.length && oldText[p] === newText[p]) p++;
  let s = 0;
  while (s < oldText.length - p && s < newText.length - p &&
         oldText[oldText.length - 1 - s] === newText[newText.length - 1 - s]) s++;
  const oldEnd = oldText.length - s, delta = newText.length - oldText.length;
  const move = (a, b) => (b <= p ? [a, b] : a >= oldEnd ? [a + delta, b + delta] : null);
  state.tokens = state.tokens.map(([a, b, c]) => { const m = move(a, b); return m && [m[0], m[1], c]; })
    .filter(Boolean);
  state.diags = state.diags.map((d) => {
    const m = move(d.start, d.end);
    if (!m) return null;
    const lineShift = (newText.slice(0, m[0]).match(/\n/g) || []).length + 1;
    return { ...d, start: m[0], end: m[1], line: lineShift };
  }).filter(Boolean);
}

function change(newText, caret, remember = true) {
  if (remember) {
    state.history.push({ text: state.text, caret: caret });
    if (state.history.length > 300) state.history.shift();
  }
  shift(state.text, newText);
  state.text = newText;
  state.decides = new Set();
  draw();
  setCaret(caret);
  scheduleCheck();
}

function insert(str) {
  const sel = selection() || [state.text.length, state.text.length];
  change(state.text.slice(0, sel[0]) + str + state.text.slice(sel[1]), sel[0] + str.length);
}

editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    const sel = selection() || [state.text.length, state.text.length];
    const lineStart = state.text.lastIndexOf("\n", sel[0] - 1) + 1;
    const line = state.text.slice(lineStart, sel[0]);
    let indent = line.match(/^[ \t]*/)[0];
    if (/^\s*section\s+"[^"]*"\s*:\s*$/.test(line)) indent += "  ";
    insert("\n" + indent);
  } else if (event.key === "Tab") {
    event.preventDefault();
    insert("  ");
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    const last = state.history.pop();
    if (last) change(last.text, Math.min(last.caret, last.text.length), false);
  }
});
editor.addEventListener("paste", (event) => {
  event.preventDefault();
  insert((event.clipboardData || window.clipboardData).getData("text/plain").replace(/\r\n?/g, "\n"));
});
editor.addEventListener("compositionstart", () => { state.composing = true; });
editor.addEventListener("compositionend", () => { state.composing = false; editor.dispatchEvent(new Event("input")); });
editor.addEventListener("input", () => {
  if (state.composing) return;
  const sel = selection();
  const text = readText();
  const caret = sel ? sel[0] : text.length;
  if (text !== state.text) change(text, caret);
});
editor.addEventListener("click", (event) => {
  const button = event.target.closest("button.fix");
  if (!button) return;
  const start = Number(button.dataset.start), end = Number(button.dataset.end);
  change(state.text.slice(0, start) + button.dataset.text + state.text.slice(end), start + button.dataset.text.length);
});

// ---- checking ----------------------------------------------------------------------------------

function scheduleCheck() {
  clearTimeout(state.timer);
  state.timer = setTimeout(check, 250);
}

async function check() {
  const text = state.text;
  let result;
  try {
    result = await post("api/check", { text });
  } catch (err) {
    $("status").textContent = `cannot check: ${err.message}`;
    return;
  }
  if (text !== state.text) return; // typed on meanwhile: a newer check is on its way
  const focused = document.activeElement === editor;
  const sel = focused ? selection() : null;
  state.tokens = result.tokens;
  state.diags = result.diagnostics;
  state.checked = result;
  draw();
  if (sel) setCaret(sel[0]);
  const status = $("status");
  status.className = "status " + (result.errors ? "errors" : result.warnings ? "warnings" : "ok");
  status.textContent = result.errors || result.warnings
    ? `${result.errors} error${result.errors === 1 ? "" : "s"}, ${result.warnings} warning${result.warnings === 1 ? "" : "s"}`
    : "no problems found";
  if (result.vocabulary) vocabulary(result.vocabulary);
  refreshTab();
}

// ---- the question ------------------------------------------------------------------------------

function fill(select, terms, optional) {
  const keep = select.value;
  const options = optional ? ['<option value="">(not said)</option>'] : [];
  for (const t of terms) {
    const depth = t.id.split(".").length - 1;
    options.push(`<option value="${esc(t.id)}" title="${esc(t.id)}">${"\u2003".repeat(depth)}${esc(t.label)}</option>`);
  }
  select.innerHTML = options.join("");
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function vocabulary(v) {
  state.vocabulary = v;
  fill($("q-data"), v.data, false);
  fill($("map-data"), v.data, false);
  fill($("q-source"), v.source, true);
  fill($("q-purpose"), v.purpose, true);
  fill($("q-recipient"), v.recipient, true);
  fill($("q-destination"), v.region || [], true);
  $("q-destination-label").hidden = !(v.region || []).length;  // a policy that names no regions
  const ticked = new Set([...document.querySelectorAll("#q-facts input:checked")].map((i) => i.value));
  $("q-facts").innerHTML = v.fact.map((f) =>
    `<label><input type="checkbox" value="${esc(f.id)}"${ticked.has(f.id) ? " checked" : ""}> ${esc(f.label)}</label>`)
    .join("") || "<em>The policy declares no facts.</em>";
  knownChanged();
}

function knownChanged() {
  const known = $("q-known").checked;
  $("q-facts").classList.toggle("disabled", !known);
  document.querySelectorAll("#q-facts input").forEach((i) => { i.disabled = !known; });
}
$("q-known").addEventListener("change", knownChanged);
$("q-unknown").addEventListener("change", knownChanged);
$("q-facts").addEventListener("change", () => { if (!$("q-known").checked) { $("q-known").checked = true; knownChanged(); } });

$("question").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = { action: $("q-action").value, data: $("q-data").value };
  for (const dim of ["source", "purpose", "recipient", "destination"]) {
    const value = $(`q-${dim}`).value;
    if (value) query[dim] = value;
  }
  query.facts = $("q-known").checked
    ? [...document.querySelectorAll("#q-facts input:checked")].map((i) => i.value) : null;
  const answer = $("answer");
  try {
    const result = await post("api/decide", { text: state.text, query });
    state.decides = new Set(result.rules.map((r) => r.line));
    draw();
    const rules = result.rules.map((r) =>
      `<li><a data-line="${r.line}">line ${r.line}</a>, section “${esc(r.section)}”: <code>${esc(r.rule)}</code></li>`).join("");
    answer.innerHTML = `<div class="headline ${result.decision}" id="headline">${esc(result.headline)}</div>` +
      (rules ? `<p>Decided by (highlighted in the text):</p><ul>${rules}</ul>` :
               "<p>No rule matches this question: what no rule allows is not allowed.</p>") +
      `<pre id="explanation">${esc(result.explanation)}</pre>`;
    const first = editor.querySelector(".line.decides");
    if (first) first.scrollIntoView({ block: "center" });
  } catch (err) {
    const need = ACTION_NEEDS[query.action];
    answer.innerHTML = `<div class="headline error" id="headline">${esc(err.message)}</div>` +
      (need && !query[need] ? `<p>A question about <b>${query.action}</b> must say the ${need}.</p>` : "");
  }
});
$("answer").addEventListener("click", (event) => {
  const link = event.target.closest("a[data-line]");
  const line = link && editor.querySelector(`.line[data-n="${link.dataset.line}"]`);
  if (line) line.scrollIntoView({ block: "center" });
});

// ---- tabs: the edit's changes, the document, the data map --------------------------------------

function currentTab() { return document.querySelector(".tabs button[aria-selected=true]").dataset.tab; }

document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b === button)));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${button.dataset.tab}`; });
  refreshTab();
}));
$("map-data").addEventListener("change", refreshTab);

async function refreshTab() {
  const tab = currentTab(), text = state.text;
  try {
    if (tab === "changes") {
      $("changes").textContent = (await post("api/diff", { text })).text;
    } else if (tab === "document") {
      $("document").srcdoc = (await post("api/render", { text })).html;
    } else if (tab === "map") {
      const result = await post("api/map", { text, data: $("map-data").value });
      $("map").innerHTML = result.svg;
    }
  } catch (err) {
    const target = { changes: "changes", document: null, map: "map" }[tab];
    if (target) $(target).textContent = err.message;
    else $("document").srcdoc = `<pre>${esc(err.message)}</pre>`;
  }
}

// ---- start -------------------------------------------------------------------------------------

(async () => {
  const response = await fetch("api/policy");
  const data = await response.json();
  if (!response.ok) { $("status").textContent = data.error; return; }
  $("path").textContent = data.path + (data.on_disk ? "" : " (an example; not on disk)");
  state.onDisk = data.on_disk;
  state.text = data.text;
  draw();
  await check();
})();
