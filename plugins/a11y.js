/* Names for controls Datasette's own templates leave unnamed, on every page: the table
   filter's column, comparison and value, the SQL editor's input, and the map's markers (Leaflet gives them an
   empty alt while making them focusable). The labels are read from this one place. */
(function () {
  "use strict";
  const NAMES = [
    ['select[name^="_filter_column"]', "Filter by column"],
    ['select[name^="_filter_op"]', "How to compare"],
    ['input[name^="_filter_value"]', "Value to compare with"],
    ['select[name="_sort"]', "Sort by"],
    [".CodeMirror textarea", "SQL query"],
  ];
  function name(root) {
    for (const [selector, label] of NAMES) {
      root.querySelectorAll(selector).forEach((el) => { if (!el.getAttribute("aria-label")) el.setAttribute("aria-label", label); });
    }
    root.querySelectorAll('img.leaflet-marker-icon[alt=""]').forEach((img) => img.setAttribute("alt", "An event: open its details"));
  }
  name(document);
  new MutationObserver(() => name(document)).observe(document.body, { childList: true, subtree: true });
})();
