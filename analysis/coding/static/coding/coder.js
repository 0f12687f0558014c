/* Chorus coding page: select text (mouse or keyboard), code it, see codings as highlights with
 * labels and NVivo-like margin stripes, inspect / remove / re-code / adjust, filter, and follow
 * co-coders live (Server-Sent Events). Plain modern JavaScript, no build step.
 *
 * Offsets: the server counts Unicode code points; the DOM counts UTF-16 units. Every conversion
 * goes through window.ChorusOffsets (static/js/offsets.js). Each paragraph element `.words` carries
 * data-start (its first code point offset); its text is the server text of [start, start + length).
 */
(function () {
  "use strict";
  const O = window.ChorusOffsets;
  const cfgEl = document.getElementById("coding-config");
  const article = document.getElementById("transcript");
  if (!O || !cfgEl || !article) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const $ = (id) => document.getElementById(id);
  const stripesEl = $("stripes"), wrap = $("text-wrap"), msgEl = $("coding-msg");
  const csrf = (() => {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  })();

  // State ----------------------------------------------------------------------------------------
  const codes = new Map(cfg.codes.map((c) => [c.id, c]));
  const codings = new Map();
  const coders = new Map(cfg.coders.map((c) => [c.id, c.name]));
  cfg.codings.forEach((c) => codings.set(c.id, c));
  const filter = { code: "", coder: "" };
  let sel = null;            // {start, end} in code points
  let anchor = null, focusPt = null; // keyboard selection ends
  let caret = null;          // keyboard caret (code points)
  const recentKey = `chorus:recent-codes:${cfg.study}`;
  let recent = [];
  try { recent = JSON.parse(localStorage.getItem(recentKey) || "[]").filter((id) => codes.has(id)); } catch (e) { recent = []; }

  const paras = [...article.querySelectorAll(".words")].map((el) => {
    const text = el.textContent;
    const start = parseInt(el.dataset.start, 10);
    return { el, text, start, end: start + O.codePointLength(text), astral: /[\uD800-\uDFFF]/.test(text),
             sig: "", line: parseInt(el.dataset.line, 10) };
  });
  if (paras.length) paras[0].el.tabIndex = 0;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function say(text, isError) {
    msgEl.textContent = text;
    msgEl.classList.toggle("error", !!isError);
  }
  function visible(c) {
    return !c.lost && (!filter.code || String(c.code) === filter.code) && (!filter.coder || String(c.coder) === filter.coder);
  }
  function codeOf(c) { return codes.get(c.code) || { name: c.code_name, colour: c.colour, path: c.code_name }; }
  function paraIndexAt(off) {
    let lo = 0, hi = paras.length - 1, ans = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (paras[mid].start <= off) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }
  function lineOf(off) { const p = paras[paraIndexAt(off)]; return p ? p.line : 1; }
  function linesText(start, end) {
    const a = lineOf(start), b = lineOf(end - 1);
    return a === b ? `line ${a}` : `lines ${a}–${b}`;
  }
  function u16(p, cp) { return p.astral ? O.codePointToUtf16(p.text, cp) : cp; }
  function textOf(start, end) {
    let out = "";
    for (let i = paraIndexAt(start); i < paras.length && paras[i].start < end; i++) {
      const p = paras[i];
      const a = Math.max(start, p.start) - p.start, b = Math.min(end, p.end) - p.start;
      if (b > a) out += (out ? " " : "") + p.text.slice(u16(p, a), u16(p, b));
    }
    return out;
  }
  function initials(name) {
    const parts = String(name || "").replace(/[^\p{L}\s'-]/gu, " ").trim().split(/\s+/).filter(Boolean);
    if (!parts.length) return "?";
    return (parts.length === 1 ? parts[0].slice(0, 2) : parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
  }
  // With several coders on screen a label names the coder too ("Telephone versus video · AB").
  let severalCoders = false;
  function labelOf(c) { return severalCoders ? `${codeOf(c).name} · ${initials(c.coder_name)}` : codeOf(c).name; }
  function short(s, n) { s = s.replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  // Colours go through the CSSOM: the Content-Security-Policy refuses style="" attributes in HTML.
  function paint(root) {
    root.querySelectorAll("[data-colour]").forEach((el) => {
      el.style.setProperty("--c", el.dataset.colour);
      if (el.dataset.textColour) el.style.setProperty("--fg", el.dataset.textColour);
    });
  }

  // Rendering -----------------------------------------------------------------------------------
  function renderPara(p, list) {
    const sig = list.map((c) => `${c.id}:${c.start}:${c.end}:${c.code}:${c.version}`).join("|") + (severalCoders ? "+" : "");
    if (sig === p.sig) return false;
    p.sig = sig;
    if (!list.length) { p.el.textContent = p.text; return true; }
    const cuts = new Set([p.start, p.end]);
    list.forEach((c) => { if (c.start > p.start) cuts.add(c.start); if (c.end < p.end) cuts.add(c.end); });
    const bounds = [...cuts].sort((a, b) => a - b);
    const frag = document.createDocumentFragment();
    for (let i = 0; i < bounds.length - 1; i++) {
      const a = bounds[i], b = bounds[i + 1];
      const piece = p.text.slice(u16(p, a - p.start), u16(p, b - p.start));
      const over = list.filter((c) => c.start < b && c.end > a);
      if (!over.length) { frag.append(piece); continue; }
      const starting = over.filter((c) => c.start === a || (a === p.start && c.start < p.start));
      const span = document.createElement("span");
      span.className = "seg";
      span.dataset.ids = over.map((c) => c.id).join(",");
      span.title = over.map((c) => `${codeOf(c).name} (${c.coder_name})`).join("; ");
      if (starting.length) span.dataset.label = starting.map(labelOf).join(" | ");
      span.style.setProperty("--hc", codeOf(over[0]).colour);
      span.style.boxShadow = over.slice(0, 6).map((c, k) => `inset 0 -${3 * (k + 1)}px 0 ${codeOf(c).colour}`).join(",");
      span.style.paddingBottom = `${Math.min(over.length, 6) * 3}px`;
      span.textContent = piece;
      frag.append(span);
    }
    p.el.replaceChildren(frag);
    return true;
  }

  function render(range) {
    const list = [...codings.values()].filter(visible).sort((a, b) => a.start - b.start || a.end - b.end || a.id - b.id);
    const nowSeveral = new Set(list.map((c) => c.coder)).size > 1;
    if (nowSeveral !== severalCoders) { severalCoders = nowSeveral; paras.forEach((p) => { p.sig = ""; }); range = null; }
    let i0 = 0, i1 = paras.length - 1;
    if (range) { i0 = paraIndexAt(range[0]); i1 = paraIndexAt(Math.max(range[0], range[1] - 1)); }
    for (let i = i0; i <= i1; i++) {
      const p = paras[i];
      renderPara(p, list.filter((c) => c.start < p.end && c.end > p.start));
    }
    renderStripes(list);
    $("coding-count").textContent = `${list.length} coding${list.length === 1 ? "" : "s"} shown`;
    if (sel) showSelection();
  }

  // The lane keeps room for the whole label, measured in the label's own font (an estimate per
  // character clipped wide names such as "Building r…" at narrow widths).
  let measureCtx = null, labelFont = "";
  function labelLength(text) {
    if (!measureCtx) {
      measureCtx = document.createElement("canvas").getContext("2d");
      const probe = document.createElement("span");
      probe.className = "stripe-label";
      stripesEl.appendChild(probe);
      const cs = getComputedStyle(probe);
      labelFont = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      probe.remove();
    }
    if (!measureCtx) return 7 * text.length;
    measureCtx.font = labelFont;
    return Math.ceil(measureCtx.measureText(text).width) + 4;
  }

  function renderStripes(list) {
    const first = new Map(), last = new Map();
    article.querySelectorAll(".seg").forEach((el) => {
      el.dataset.ids.split(",").forEach((id) => { if (!first.has(id)) first.set(id, el); last.set(id, el); });
    });
    const top0 = wrap.getBoundingClientRect().top;
    const items = [];
    list.forEach((c) => {
      const f = first.get(String(c.id)), l = last.get(String(c.id));
      if (!f || !l) return;
      const t = f.getBoundingClientRect().top - top0, b = l.getBoundingClientRect().bottom - top0;
      const code = codeOf(c);
      // The lane is kept free for the whole label, which may run below a short span's bar.
      items.push({ c, top: t, bottom: Math.max(b, t + 14), labelEnd: t + 8 + labelLength(short(labelOf(c), 40)) });
    });
    // 24 px targets with a 2 px gap: WCAG 2.2's minimum target size (2.5.8).
    const LANE = 26;
    const lanes = [];
    const frag = document.createDocumentFragment();
    items.sort((a, b) => a.top - b.top);
    items.forEach((it) => {
      let lane = lanes.findIndex((endY) => endY < it.top - 4);
      if (lane === -1) { lane = lanes.length; lanes.push(0); }
      const end = Math.max(it.bottom, it.labelEnd, it.top + 24);
      lanes[lane] = end;
      const code = codeOf(it.c);
      const l1 = lineOf(it.c.start), l2 = lineOf(it.c.end - 1);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "stripe";
      button.dataset.id = it.c.id;
      // The accessible name starts with the visible label (WCAG 2.5.3, label in name).
      button.setAttribute("aria-label", `${short(labelOf(it.c), 40)}: ${code.name} by ${it.c.coder_name}, lines ${l1}–${l2}`);
      button.style.top = `${it.top}px`;
      button.style.height = `${end - it.top}px`;
      button.style.left = `${Math.min(lane, 9) * LANE}px`;
      button.style.setProperty("--c", code.colour);
      button.style.setProperty("--bar", `${it.bottom - it.top}px`);
      const label = document.createElement("span");
      label.className = "stripe-label";
      label.textContent = short(labelOf(it.c), 40);
      button.append(label);
      frag.append(button);
    });
    stripesEl.replaceChildren(frag);
    stripesEl.style.width = `${Math.max(1, Math.min(lanes.length, 10)) * LANE}px`;
    // The last labels may run below the text: the margin grows to hold them (no spill into the footer).
    stripesEl.style.minHeight = `${Math.ceil(Math.max(0, ...lanes))}px`;
  }

  // Selection -----------------------------------------------------------------------------------
  function domPoint(off, preferEnd) {
    let i = paraIndexAt(off);
    if (preferEnd && i > 0 && paras[i].start === off) i -= 1;
    const p = paras[i];
    let remaining = u16(p, Math.max(0, Math.min(off, p.end) - p.start));
    const walker = document.createTreeWalker(p.el, NodeFilter.SHOW_TEXT);
    let node = walker.nextNode(), lastNode = null;
    while (node) {
      if (remaining <= node.length) return [node, remaining];
      remaining -= node.length; lastNode = node; node = walker.nextNode();
    }
    return lastNode ? [lastNode, lastNode.length] : [p.el, 0];
  }
  function showSelection() {
    if (!sel) return;
    const [sn, so] = domPoint(sel.start, false), [en, eo] = domPoint(sel.end, true);
    const s = window.getSelection();
    try { s.setBaseAndExtent(sn, so, en, eo); } catch (e) { /* node replaced meanwhile */ }
  }
  function setSel(next, fromKeyboard) {
    const prev = sel;
    sel = next && next.end > next.start ? next : null;
    // A new selection starts a new search: the last query ("tailored") must not run into the next.
    if (sel && (!prev || prev.start !== sel.start || prev.end !== sel.end)) clearSearch();
    const summary = $("sel-summary");
    if (summary) {
      summary.textContent = sel
        ? `Selected (lines ${lineOf(sel.start)}–${lineOf(sel.end - 1)}): “${short(textOf(sel.start, sel.end), 120)}”`
        : "Select some text first.";
    }
    if (fromKeyboard) showSelection();
  }
  document.addEventListener("selectionchange", () => {
    if (keyboardSelecting) return;
    const s = window.getSelection();
    if (!s || !s.rangeCount || s.isCollapsed) return;
    const r = s.getRangeAt(0);
    if (!article.contains(r.commonAncestorContainer)) return;
    const span = O.selectionToServer(r, ".words");
    if (!span || (sel && span.start === sel.start && span.end === sel.end)) return;
    setSel(span, false); anchor = span.start; focusPt = span.end;
  });

  // Mouse selections snap outwards to whole words, as ATLAS.ti and NVivo do, so a coding never starts
  // or ends inside a word; Alt-drag keeps the exact characters. Offsets stay code points.
  const WORD_CHAR = /[\p{L}\p{N}\p{M}'’_-]/u;
  function cpAt(off) {
    const p = paras[paraIndexAt(off)];
    if (!p || off < p.start || off >= p.end) return "";
    const i = u16(p, off - p.start);
    return String.fromCodePoint(p.text.codePointAt(i));
  }
  function isWord(ch) { return !!ch && WORD_CHAR.test(ch); }
  function snapToWords(span) {
    let { start, end } = span;
    while (start < end && /\s/.test(cpAt(start))) start++;
    while (end > start && /\s/.test(cpAt(end - 1))) end--;
    const p0 = paras[paraIndexAt(start)], p1 = paras[paraIndexAt(Math.max(start, end - 1))];
    while (start > p0.start && isWord(cpAt(start)) && isWord(cpAt(start - 1))) start--;
    while (end < p1.end && isWord(cpAt(end - 1)) && isWord(cpAt(end))) end++;
    return end > start ? { start, end } : span;
  }
  let exactDrag = false;
  article.addEventListener("mousedown", (ev) => { exactDrag = ev.altKey; });
  article.addEventListener("mouseup", () => {
    setTimeout(() => {  // after the browser has settled the selection
      const s = window.getSelection();
      if (!s || !s.rangeCount || s.isCollapsed || !sel || exactDrag) return;
      const snapped = snapToWords(sel);
      if (snapped.start !== sel.start || snapped.end !== sel.end) {
        keyboardSelecting = true;
        setSel(snapped, true);
        anchor = snapped.start; focusPt = snapped.end;
        setTimeout(() => { keyboardSelecting = false; }, 0);
      }
    }, 0);
  });

  // Keyboard: a word caret in focusable paragraphs (roving tabindex), no caret browsing needed.
  let keyboardSelecting = false;
  function words(p) {
    if (!p.words) {
      p.words = [];
      const re = /\S+/g; let m;
      while ((m = re.exec(p.text))) {
        const a = O.utf16ToCodePoint(p.text, m.index), b = O.utf16ToCodePoint(p.text, m.index + m[0].length);
        p.words.push([p.start + a, p.start + b]);
      }
    }
    return p.words;
  }
  function nextBoundary(off) {
    for (let i = paraIndexAt(off); i < paras.length; i++) {
      for (const [, b] of words(paras[i])) if (b > off) return b;
    }
    return off;
  }
  function prevBoundary(off) {
    for (let i = paraIndexAt(off); i >= 0; i--) {
      const ws = words(paras[i]);
      for (let k = ws.length - 1; k >= 0; k--) if (ws[k][0] < off) return ws[k][0];
    }
    return off;
  }
  function focusPara(i) {
    i = Math.max(0, Math.min(paras.length - 1, i));
    paras.forEach((p, k) => { p.el.tabIndex = k === i ? 0 : -1; });
    paras[i].el.focus();
    return paras[i];
  }
  function applyKeyboardSel() {
    keyboardSelecting = true;
    setSel({ start: Math.min(anchor, focusPt), end: Math.max(anchor, focusPt) }, true);
    setTimeout(() => { keyboardSelecting = false; }, 0);
    const p = focusPara(paraIndexAt(focusPt === paras[paraIndexAt(focusPt)].start && focusPt > anchor ? focusPt - 1 : focusPt));
    p.el.scrollIntoView({ block: "nearest" });
  }
  article.addEventListener("keydown", (ev) => {
    const el = ev.target.closest(".words");
    if (!el) return;
    const i = paras.findIndex((p) => p.el === el);
    const p = paras[i];
    if (caret === null || caret < p.start || caret > p.end) caret = p.start;
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      ev.preventDefault();
      if (ev.shiftKey) {
        if (anchor === null || !sel) {
          // A new selection starts at a word: from a word's end going right, at the next word's start.
          anchor = ev.key === "ArrowRight" ? wordStartAtOrAfter(caret) : caret; focusPt = anchor;
        }
        focusPt = ev.key === "ArrowRight" ? nextBoundary(focusPt) : prevBoundary(focusPt);
        caret = focusPt;
        applyKeyboardSel();
      } else {
        caret = ev.key === "ArrowRight" ? nextBoundary(caret) : prevBoundary(caret);
        anchor = focusPt = null; setSel(null); window.getSelection().removeAllRanges();
        markCaret();
      }
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (ev.shiftKey) {
        if (anchor === null || !sel) { anchor = caret; focusPt = caret; }
        const k = paraIndexAt(focusPt);
        focusPt = ev.key === "ArrowDown" ? (focusPt < paras[k].end ? paras[k].end : (paras[k + 1] || paras[k]).end)
          : prevBoundary(paras[k].start === focusPt && k > 0 ? paras[k - 1].start + 1 : paras[k].start + 1);
        caret = focusPt;
        applyKeyboardSel();
      } else {
        const q = focusPara(ev.key === "ArrowDown" ? i + 1 : i - 1);
        caret = q.start; anchor = focusPt = null; setSel(null); window.getSelection().removeAllRanges();
        markCaret();
      }
    } else if (ev.key === "Escape") {
      anchor = focusPt = null; setSel(null); window.getSelection().removeAllRanges();
    } else if ((ev.key === "c" || ev.key === "C" || ev.key === "Enter") && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      if (sel && cfg.canCode) openPicker();
      else showDetailsAt(caret);
    } else if (/^[1-9]$/.test(ev.key) && sel && cfg.canCode) {
      const id = recent[parseInt(ev.key, 10) - 1];
      if (id) { ev.preventDefault(); applyCode(id); }
    }
  });
  function markCaret() {
    // A collapsed DOM selection shows where the word caret is (and screen readers follow focus).
    const [n, o] = domPoint(caret, false);
    keyboardSelecting = true;
    try { window.getSelection().setBaseAndExtent(n, o, n, o); } catch (e) { /* ignore */ }
    setTimeout(() => { keyboardSelecting = false; }, 0);
    say(`Line ${lineOf(caret)}: ${short(textOf(caret, nextBoundary(caret)), 40)}`);
  }
  article.addEventListener("focusin", (ev) => {
    const el = ev.target.closest(".words");
    if (el) paras.forEach((p) => { p.el.tabIndex = p.el === el ? 0 : -1; });
  });

  // Code picker -----------------------------------------------------------------------------------
  const search = $("code-search"), options = $("code-options");
  let active = 0, recodeTarget = null;
  function matches() {
    const q = (search.value || "").toLowerCase().trim();
    return cfg.codes.filter((c) => c.codable && (!q || c.path.toLowerCase().includes(q))).slice(0, 50);
  }
  function clearSearch(force) {
    // Not while the coder is typing a query (a selection can still settle under it).
    if (!search || recodeTarget || (!force && document.activeElement === search)) return;
    search.value = ""; active = 0; renderOptions();
  }
  function renderOptions() {
    if (!options) return;
    const list = matches();
    const q = (search.value || "").trim();
    const newBtn = $("new-code");
    if (newBtn) {
      const exact = cfg.codes.some((c) => c.name.toLowerCase() === q.toLowerCase());
      newBtn.hidden = !q || exact || !!recodeTarget;
      newBtn.textContent = `New code “${short(q, 40)}” from this selection`;
    }
    active = Math.min(active, Math.max(0, list.length - 1));
    options.innerHTML = list.map((c, k) =>
      `<li role="option" id="opt-${c.id}" data-id="${c.id}" aria-selected="${k === active}" class="${k === active ? "active" : ""}">` +
      `<span class="swatch" data-colour="${esc(c.colour)}" aria-hidden="true"></span>${esc(c.path)}</li>`).join("") ||
      '<li class="muted">No codable code matches.</li>';
    paint(options);
    search.setAttribute("aria-activedescendant", list[active] ? `opt-${list[active].id}` : "");
  }
  function renderRecent() {
    const ol = $("recent-codes");
    if (!ol) return;
    ol.innerHTML = recent.length ? recent.map((id, k) => {
      const c = codes.get(id);
      return `<li><button type="button" class="link-button recent" data-id="${id}"><kbd>${k + 1}</kbd> ` +
        `<span class="swatch" data-colour="${esc(c.colour)}" aria-hidden="true"></span>${esc(c.name)}</button></li>`;
    }).join("") : '<li class="muted">None yet.</li>';
    paint(ol);
  }
  function openPicker(forCoding) {
    recodeTarget = forCoding || null;
    if (!search) return;
    $("picker-h").textContent = recodeTarget ? "Re-code: choose the new code" : "Code the selection";
    search.value = ""; active = 0; renderOptions();
    search.focus();
  }
  if (search) {
    search.addEventListener("input", () => { active = 0; renderOptions(); });
    search.addEventListener("keydown", (ev) => {
      const list = matches();
      if (ev.key === "ArrowDown") { ev.preventDefault(); active = Math.min(active + 1, list.length - 1); renderOptions(); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); active = Math.max(active - 1, 0); renderOptions(); }
      else if (ev.key === "Enter") {
        ev.preventDefault();
        if (list[active]) choose(list[active].id);
        else {
          const q = search.value.trim();
          say(q ? `No codable code matches “${short(q, 40)}”.` + (cfg.newCodeApi ? " Use “New code” below to create it from this selection." : " Try another word, or ask a lead to add the code.")
            : "Type part of a code's name first.", true);
        }
      }
      else if (ev.key === "Escape") { ev.preventDefault(); recodeTarget = null; backToText(); }
      else if (/^[1-9]$/.test(ev.key) && !search.value && recent[parseInt(ev.key, 10) - 1]) {
        ev.preventDefault(); choose(recent[parseInt(ev.key, 10) - 1]);
      }
    });
    const newBtn = $("new-code");
    if (newBtn) newBtn.addEventListener("click", () => createCode(search.value.trim()));
    options.addEventListener("click", (ev) => { const li = ev.target.closest("[data-id]"); if (li) choose(parseInt(li.dataset.id, 10)); });
    $("recent-codes").addEventListener("click", (ev) => { const b = ev.target.closest("[data-id]"); if (b) choose(parseInt(b.dataset.id, 10)); });
    renderOptions(); renderRecent();
  }
  function backToText() {
    const at = sel ? sel.end - 1 : caret;
    if (at !== null && at !== undefined && paras.length) focusPara(paraIndexAt(at)); else if (paras.length) focusPara(0);
    if (sel) showSelection();
  }
  function choose(codeId) {
    if (recodeTarget) { const c = recodeTarget; recodeTarget = null; patch(c, { code: codeId }); return; }
    applyCode(codeId);
  }
  function remember(codeId) {
    recent = [codeId, ...recent.filter((x) => x !== codeId)].slice(0, 9);
    try { localStorage.setItem(recentKey, JSON.stringify(recent)); } catch (e) { /* private mode */ }
    renderRecent();
  }

  // Server calls -------------------------------------------------------------------------------------
  async function call(method, url, body) {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = r.status === 204 ? null : await r.json(); } catch (e) { data = null; }
    return { ok: r.ok, status: r.status, data };
  }
  function problem(res) {
    if (res.status === 429) return "Too many changes in a short time; wait a moment and try again.";
    const d = res.data || {};
    if (d.detail) return d.detail;
    return Object.entries(d).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join(" ") || `The server answered ${res.status}.`;
  }
  function upsert(c) {
    const old = codings.get(c.id);
    if (old && old.version > c.version) return;
    codings.set(c.id, c);
    if (!coders.has(c.coder)) {
      coders.set(c.coder, c.coder_name);
      $("filter-coder").insertAdjacentHTML("beforeend", `<option value="${c.coder}">${esc(c.coder_name)}</option>`);
    }
    render([Math.min(c.start, old ? old.start : c.start), Math.max(c.end, old ? old.end : c.end)]);
    refreshDetails();
  }
  function remove(id) {
    const old = codings.get(id);
    if (!old) return;
    codings.delete(id);
    render([old.start, old.end]);
    refreshDetails();
  }
  async function applyCode(codeId) {
    if (!sel) { say("Select some text first.", true); return; }
    const span = sel;
    const res = await call("POST", cfg.api, { code: codeId, start: span.start, end: span.end, transcript_version: cfg.version });
    if (!res.ok) { say(problem(res), true); return; }
    remember(codeId);
    upsert(res.data);
    clearSearch(true);
    say(`Coded “${short(textOf(span.start, span.end), 60)}” with ${codeOf(res.data).name}.`);
    caret = span.end; anchor = focusPt = null;
    setSel(null); window.getSelection().removeAllRanges();
    if (paras.length) focusPara(paraIndexAt(Math.max(span.start, span.end - 1)));
  }
  // "New code from here": a lead's new code, or a coder's proposed one (the server decides which).
  async function createCode(name) {
    if (!cfg.newCodeApi || !name) return;
    if (!sel) { say("Select some text first.", true); return; }
    const res = await call("POST", cfg.newCodeApi, { name });
    if (!res.ok) { say(problem(res), true); return; }
    const c = res.data;
    const entry = { id: c.id, name: c.name, path: c.path || c.name, colour: c.colour, text: c.label_colour || "#fff",
                    codable: true, depth: 0, description: "" };
    cfg.codes.push(entry); codes.set(entry.id, entry);
    const opt = document.createElement("option");
    opt.value = String(entry.id); opt.textContent = entry.path;
    $("filter-code").appendChild(opt);
    await applyCode(entry.id);
    say(c.proposed ? `Proposed the new code “${c.name}” (a lead reviews it) and coded the selection with it.`
      : `Created the code “${c.name}” and coded the selection with it.`);
  }

  async function patch(c, changes) {
    const res = await call("PATCH", `${cfg.api}${c.id}/`, { version: c.version, ...changes });
    if (res.status === 409 && res.data && res.data.current) { upsert(res.data.current); say(problem(res), true); return; }
    if (!res.ok) { say(problem(res), true); return; }
    upsert(res.data);
    say(`Saved: ${codeOf(res.data).name}, lines ${lineOf(res.data.start)}–${lineOf(res.data.end - 1)}.`);
    if (changes.code) remember(changes.code);
  }
  async function del(c) {
    const res = await call("DELETE", `${cfg.api}${c.id}/`);
    if (!res.ok) { say(problem(res), true); return; }
    remove(c.id);
    say(`Removed the coding ${codeOf(c).name}.`);
  }

  // Details ------------------------------------------------------------------------------------------
  let detailIds = [];
  function showDetails(ids) {
    detailIds = ids;
    refreshDetails();
    const d = $("details");
    d.hidden = false;
    d.focus();
  }
  function showDetailsAt(off) {
    if (off === null || off === undefined) return;
    const ids = [...codings.values()].filter((c) => visible(c) && c.start <= off && c.end > off).map((c) => c.id);
    if (!ids.length) { say("No coding at this point."); return; }
    showDetails(ids);
  }
  function refreshDetails() {
    const body = $("details-body");
    const list = detailIds.map((id) => codings.get(id)).filter(Boolean);
    if (!list.length) { body.innerHTML = '<p class="muted">Nothing here any more.</p>'; return; }
    body.innerHTML = list.map((c) => {
      const code = codeOf(c);
      const mine = cfg.canCode && (c.coder === cfg.me || cfg.isLead);
      return `<div class="detail" data-id="${c.id}">
        <p><span class="chip" data-colour="${esc(code.colour)}" data-text-colour="${esc(code.text || "#000")}">${esc(code.path || code.name)}</span></p>
        <p class="muted">by ${esc(c.coder_name)} (${esc(initials(c.coder_name))}) · ${linesText(c.start, c.end)}</p>
        <blockquote>${esc(short(textOf(c.start, c.end), 400))}</blockquote>
        ${mine ? `<label>Memo <textarea class="memo" rows="2">${esc(c.memo || "")}</textarea></label>
        <div class="actions">
          <button type="button" class="button small" data-act="memo">Save memo</button>
          <button type="button" class="button small secondary" data-act="recode">Re-code</button>
          <button type="button" class="button small warning" data-act="delete">Remove this coding</button>
        </div>
        ${cfg.canMemo ? `<p><a href="${cfg.memoPage}?coding=${c.id}#new-memo-h">Write a longer memo about this coding</a></p>` : ""}
        <fieldset class="adjust"><legend>Adjust boundaries (by word)</legend>
          <button type="button" class="button small secondary" data-act="s-">Start earlier</button>
          <button type="button" class="button small secondary" data-act="s+">Start later</button>
          <button type="button" class="button small secondary" data-act="e-">End earlier</button>
          <button type="button" class="button small secondary" data-act="e+">End later</button>
          <button type="button" class="button small secondary" data-act="sel">Use the current selection</button>
        </fieldset>` : (c.memo ? `<p><strong>Memo:</strong> ${esc(c.memo)}</p>` : "")}
      </div>`;
    }).join("");
    paint(body);
  }
  $("details-body").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-act]");
    if (!b) return;
    const c = codings.get(parseInt(b.closest(".detail").dataset.id, 10));
    if (!c) return;
    const act = b.dataset.act;
    if (act === "delete") del(c);
    else if (act === "recode") openPicker(c);
    else if (act === "memo") patch(c, { memo: b.closest(".detail").querySelector(".memo").value });
    else if (act === "sel") { if (sel) patch(c, { start: sel.start, end: sel.end }); else say("Select the new span first.", true); }
    else {
      let { start, end } = c;
      if (act === "s-") start = prevBoundary(start);
      if (act === "s+") start = Math.min(nextBoundary(start + 1) === start ? start : wordStartAfter(start), end - 1);
      if (act === "e-") end = Math.max(prevWordEnd(end), start + 1);
      if (act === "e+") end = nextBoundary(end);
      if (start !== c.start || end !== c.end) patch(c, { start, end });
    }
  });
  function wordStartAtOrAfter(off) {
    for (let i = paraIndexAt(off); i < paras.length; i++) for (const [a, b] of words(paras[i])) if (b > off) return Math.max(a, off);
    return off;
  }
  function wordStartAfter(off) {
    for (let i = paraIndexAt(off); i < paras.length; i++) for (const [a] of words(paras[i])) if (a > off) return a;
    return off;
  }
  function prevWordEnd(off) {
    for (let i = paraIndexAt(off); i >= 0; i--) {
      const ws = words(paras[i]);
      for (let k = ws.length - 1; k >= 0; k--) if (ws[k][1] < off) return ws[k][1];
    }
    return off;
  }
  article.addEventListener("click", (ev) => {
    const seg = ev.target.closest(".seg");
    const s = window.getSelection();
    if (!seg || (s && !s.isCollapsed)) return;
    showDetails(seg.dataset.ids.split(",").map((x) => parseInt(x, 10)));
  });
  stripesEl.addEventListener("click", (ev) => {
    const b = ev.target.closest(".stripe");
    if (b) showDetails([parseInt(b.dataset.id, 10)]);
  });

  // Filters ----------------------------------------------------------------------------------------
  $("filter-code").addEventListener("change", (ev) => { filter.code = ev.target.value; render(); });
  $("filter-coder").addEventListener("change", (ev) => { filter.coder = ev.target.value; render(); });
  window.addEventListener("resize", () => renderStripes([...codings.values()].filter(visible)));

  // Live ----------------------------------------------------------------------------------------------
  const status = $("live-status"), presence = $("presence");
  function connect() {
    if (!window.EventSource) { status.textContent = "Live updates unavailable in this browser."; return; }
    const es = new EventSource(`${cfg.stream}?after=${cfg.feed}`);
    es.addEventListener("open", () => { status.textContent = "Live"; status.classList.add("on"); });
    es.addEventListener("error", () => { status.textContent = "Reconnecting…"; status.classList.remove("on"); });
    es.addEventListener("coding", (ev) => {
      const e = JSON.parse(ev.data);
      if (e.kind === "deleted") remove(e.coding.id); else upsert(e.coding);
    });
    es.addEventListener("version", (ev) => {
      const v = JSON.parse(ev.data).version;
      if (v !== cfg.version && !document.getElementById("stale-banner")) {
        cfg.canCode = false;
        const picker = $("picker");
        if (picker) picker.hidden = true;
        $("panel").insertAdjacentHTML("afterbegin", '<p class="message message-warning" id="stale-panel">' +
          "Coding is paused until you reload: the text changed under your selection.</p>");
        article.insertAdjacentHTML("beforebegin", '<div class="message message-warning" id="stale-banner" role="alert">' +
          '<strong class="message-kind">Changed:</strong> the transcript was corrected since you opened it ' +
          `(now version ${v}). <a href="${location.pathname}" id="stale-reload">Reload</a> to go on coding ` +
          "where you are.</div>");
        // Back to the line being read (lines outlive a correction better than offsets do).
        $("stale-reload").addEventListener("click", (ev) => {
          ev.currentTarget.href = `${location.pathname}?line=${firstVisibleLine()}`;
        });
      }
    });
    es.addEventListener("presence", (ev) => {
      const others = JSON.parse(ev.data).filter((v) => v.id !== cfg.me);
      presence.textContent = others.length ? `Also here: ${others.map((v) => v.name).join(", ")}` : "Nobody else is here.";
    });
    window.ChorusCoding.source = es;
  }

  function firstVisibleLine() {
    const p = paras.find((q) => q.el.getBoundingClientRect().bottom > 0);
    return p ? p.line : 1;
  }
  function goToLine() {
    const line = parseInt(new URLSearchParams(location.search).get("line") || "", 10);
    const i = paras.findIndex((p) => p.line >= line);
    if (line > 1 && i >= 0) {
      focusPara(i);
      paras[i].el.scrollIntoView({ block: "start" });
    }
  }

  window.ChorusCoding = { codings, render, state: () => ({ sel, caret }) };
  render();
  goToLine();
  connect();
  if (window.performance && performance.mark) performance.mark("coding-ready");
  document.documentElement.dataset.codingReady = "1";
})();
