/* Code colours under the Content-Security-Policy. style="" attributes are refused (style-src has no
 * 'unsafe-inline'), so templates carry a colour as data-colour / data-text-colour and this sets it as
 * a CSS custom property through the CSSOM, which the policy allows; the stylesheets read --c and --fg.
 * Runs on the page and on every piece of HTML htmx swaps in. Only hex colours are taken: the value is
 * the server's, already validated, and nothing else could mean anything here.
 */
(function () {
  "use strict";
  const HEX = /^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$/;
  const SELECTOR = "[data-colour], [data-text-colour]";

  function paint(root) {
    if (!root || !root.querySelectorAll) return;
    const found = [...root.querySelectorAll(SELECTOR)];
    if (root.matches && root.matches(SELECTOR)) found.push(root);
    found.forEach((el) => {
      const bg = el.dataset.colour, fg = el.dataset.textColour;
      if (bg && HEX.test(bg)) el.style.setProperty("--c", bg);
      if (fg && HEX.test(fg)) el.style.setProperty("--fg", fg);
    });
  }

  window.ChorusPaint = paint;
  document.addEventListener("htmx:load", (ev) => paint(ev.target));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => paint(document));
  else paint(document);
})();
