/* Chorus offsets: the one place where the browser converts between its string indexes and the
 * server's offsets.
 *
 * The server counts Unicode code points in NFC text with "\n" line ends, half-open [start, end)
 * (the REFI-QDA convention). JavaScript strings, the DOM Selection and Range APIs count UTF-16
 * code units: an emoji such as 👍 is 2 units but 1 code point. Text typed or pasted in the browser
 * may also hold "\r\n" line ends or decomposed characters (e + combining acute accent).
 *
 * Exposed as window.ChorusOffsets (plain script, no build step).
 */
(function (global) {
  "use strict";

  /** Number of code points in a string (a lone surrogate counts as one). */
  function codePointLength(str) {
    let n = 0;
    for (let i = 0; i < str.length; i++) {
      const c = str.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      n++;
    }
    return n;
  }

  /** Code point index of a UTF-16 index. An index inside a surrogate pair rounds down. */
  function utf16ToCodePoint(str, utf16Index) {
    const idx = Math.max(0, Math.min(utf16Index, str.length));
    let end = idx;
    if (end > 0 && end < str.length) {
      const hi = str.charCodeAt(end - 1), lo = str.charCodeAt(end);
      if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) end--;
    }
    return codePointLength(str.slice(0, end));
  }

  /** UTF-16 index of a code point index (clamped to the string). */
  function codePointToUtf16(str, cpIndex) {
    let cp = 0, i = 0;
    while (i < str.length && cp < cpIndex) {
      const c = str.charCodeAt(i);
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < str.length &&
        str.charCodeAt(i + 1) >= 0xdc00 && str.charCodeAt(i + 1) <= 0xdfff;
      i += pair ? 2 : 1;
      cp++;
    }
    return i;
  }

  /** The text as the server stores it: "\n" line ends, NFC. */
  function toServerText(str) {
    return str.replace(/\r\n?|\u2028|\u2029/g, "\n").normalize("NFC");
  }

  /** Server offset (code points of the normalised text) of a UTF-16 index into raw browser text,
   * which may hold "\r\n" or decomposed characters. */
  function serverOffset(rawText, utf16Index) {
    const idx = Math.max(0, Math.min(utf16Index, rawText.length));
    return codePointLength(toServerText(rawText.slice(0, idx)));
  }

  /** A [start, end) UTF-16 range of a string as server code point offsets, plus the text. */
  function rangeToServer(rawText, utf16Start, utf16End, base) {
    const b = base || 0;
    const s = Math.min(utf16Start, utf16End), e = Math.max(utf16Start, utf16End);
    return {
      start: b + serverOffset(rawText, s),
      end: b + serverOffset(rawText, e),
      text: toServerText(rawText.slice(s, e)),
    };
  }

  /** A server [start, end) span inside a string that starts at server offset `base`, as UTF-16
   * indexes into that (already normalised) string. */
  function serverToRange(text, start, end, base) {
    const b = base || 0;
    return { start: codePointToUtf16(text, start - b), end: codePointToUtf16(text, end - b) };
  }

  /** Server offsets of a DOM Range whose ends lie in elements carrying data-start (the code point
   * offset where the element's text begins). Returns null if the range leaves them. */
  function selectionToServer(range, selector) {
    const sel = selector || "[data-start]";
    const startEl = closestEl(range.startContainer, sel);
    const endEl = closestEl(range.endContainer, sel);
    if (!startEl || !endEl) return null;
    const start = pointOffset(startEl, range.startContainer, range.startOffset);
    const end = pointOffset(endEl, range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return null;
    return { start: start, end: end };
  }

  function closestEl(node, sel) {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return el ? el.closest(sel) : null;
  }

  function pointOffset(el, container, offset) {
    const r = document.createRange();
    r.setStart(el, 0);
    try { r.setEnd(container, offset); } catch (e) { return null; }
    return parseInt(el.dataset.start, 10) + serverOffset(r.toString(), r.toString().length);
  }

  global.ChorusOffsets = {
    codePointLength: codePointLength,
    utf16ToCodePoint: utf16ToCodePoint,
    codePointToUtf16: codePointToUtf16,
    toServerText: toServerText,
    serverOffset: serverOffset,
    rangeToServer: rangeToServer,
    serverToRange: serverToRange,
    selectionToServer: selectionToServer,
  };
})(typeof window !== "undefined" ? window : globalThis);
