/* Reading view: scroll to a search hit; for leads, turn a text selection into the "replace" form
 * (offsets through ChorusOffsets). Without JavaScript the page still reads; only selection-based
 * replacement needs it (find and replace works without). */
(function () {
  "use strict";
  const hit = document.getElementById("hit");
  if (hit) { hit.scrollIntoView({ block: "center" }); hit.focus({ preventScroll: true }); }

  const form = document.getElementById("replace-form");
  const article = document.getElementById("transcript");
  if (!form || !article || !window.ChorusOffsets) return;
  const f = (name) => form.querySelector(`[name="${name}"]`);
  const shown = document.getElementById("replace-selected");
  const input = f("replacement");

  function fullText(start, end) {
    // The selected server text, rebuilt from the paragraphs (the selection may span turns).
    // Paragraphs of one turn are separated by newlines only, so gaps are filled with "\n".
    let out = "";
    let last = null;
    article.querySelectorAll("[data-start]").forEach((el) => {
      const s = parseInt(el.dataset.start, 10);
      const t = el.textContent;
      const len = ChorusOffsets.codePointLength(t);
      if (s + len <= start || s >= end) return;
      const a = Math.max(start, s) - s, b = Math.min(end, s + len) - s;
      if (last !== null && s + a > last) out += "\n".repeat(s + a - last);
      const r = ChorusOffsets.serverToRange(t, a, b, 0);
      out += t.slice(r.start, r.end);
      last = s + b;
    });
    return out;
  }

  document.addEventListener("selectionchange", () => {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return;
    const range = sel.getRangeAt(0);
    if (!article.contains(range.commonAncestorContainer)) return;
    const span = ChorusOffsets.selectionToServer(range, "[data-start]");
    if (!span) return;
    const startEl = range.startContainer.parentElement.closest("[data-start]");
    const endEl = range.endContainer.parentElement.closest("[data-start]");
    if (startEl !== endEl && startEl.closest(".turn") !== endEl.closest(".turn")) {
      shown.textContent = "Select text within one speaker turn.";
      form.hidden = false;
      f("start").value = "";
      return;
    }
    const text = fullText(span.start, span.end);
    f("start").value = span.start;
    f("end").value = span.end;
    f("expected").value = text;
    shown.textContent = text.length > 200 ? text.slice(0, 199) + "…" : text;
    form.hidden = false;
    // Keep the selected words visible above the docked form.
    const hidden = range.getBoundingClientRect().bottom - (window.innerHeight - form.offsetHeight) + 16;
    if (hidden > 0) window.scrollBy({ top: hidden });
  });

  form.querySelectorAll("[data-marker]").forEach((b) =>
    b.addEventListener("click", () => { input.value = b.dataset.marker; input.focus(); }));
  document.getElementById("replace-cancel").addEventListener("click", () => {
    form.hidden = true; window.getSelection().removeAllRanges();
  });
  form.addEventListener("submit", (e) => {
    if (!f("start").value) { e.preventDefault(); shown.textContent = "Select some text first."; }
  });
})();
