/* A search box above a long list of checkboxes (the matrix form's transcripts): typing hides the
 * choices whose label does not contain the words; checked choices always stay visible, so nothing
 * chosen is ever hidden. Without JavaScript the whole list shows. No inline script or style (CSP):
 * hiding uses the hidden attribute.
 */
(function () {
  "use strict";
  const LONG = 8;

  function attach(fieldset) {
    const items = [...fieldset.querySelectorAll(".checkbox")];
    if (items.length < LONG || fieldset.querySelector(".checklist-filter")) return;
    const legend = fieldset.querySelector("legend");
    const id = (items[0].querySelector("input").name || "list") + "-filter";
    const wrap = document.createElement("div");
    wrap.className = "field checklist-filter";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = "Find in the list" + (legend ? " (" + legend.textContent.split("(")[0].trim().toLowerCase() + ")" : "");
    const input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.autocomplete = "off";
    const status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("aria-live", "polite");
    wrap.append(label, input, status);
    items[0].before(wrap);
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      items.forEach((item) => {
        const text = item.textContent.toLowerCase();
        const keep = item.querySelector("input").checked || words.every((w) => text.includes(w));
        item.hidden = !keep;
        if (keep) shown += 1;
      });
      status.textContent = words.length ? shown + " of " + items.length + " shown" : "";
    });
  }

  function run() { document.querySelectorAll("form fieldset").forEach(attach); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
