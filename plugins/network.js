/* The network page (templates/query-imu-network.html): draws the `network` canned query's
   rows for the chosen year with Cytoscape.js, and on a click shows the `relation_claims` of a
   line. Both URLs come from the page (data-data, data-claims), so content-hashed routes work.
   Which relations hold, may hold or are undated in a year is the query's answer (its `status`),
   never worked out here. Text from the data goes in through textContent only. */
(function () {
  "use strict";
  const box = document.getElementById("imu-network");
  if (!box || !window.cytoscape) return;
  box.hidden = false;
  const slider = document.getElementById("imu-year");
  const shown = document.getElementById("imu-year-shown");
  const count = document.getElementById("imu-network-count");
  const panel = document.getElementById("imu-edge-claims");
  const showUndated = document.getElementById("imu-undated");
  const types = Array.from(box.querySelectorAll("input[data-relation]"));
  const style = {};
  types.forEach((t) => { style[t.dataset.relation] = { colour: t.dataset.colour, arrow: t.dataset.arrow, words: t.dataset.words }; });
  const focus = new Set((box.dataset.focus || "").split(" ").filter(Boolean));
  const params = new URLSearchParams(location.search);
  const group = params.get("group") || "";
  let year = (params.get("year") || "").trim();
  let asked = 0;

  const cy = window.cytoscape({
    container: document.getElementById("imu-graph"),
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { label: "data(name)", "font-size": 12, "text-wrap": "wrap", "text-max-width": "data(wrap)",
        "text-halign": "data(halign)", "text-valign": "data(valign)", "text-margin-x": "data(dx)", "text-margin-y": "data(dy)",
        "text-background-color": "#fff", "text-background-opacity": 0.8, "background-color": "#8a8a8a",
        width: 16, height: 16 } },
      { selector: "node.focus", style: { "background-color": "#222", width: 28, height: 28, "font-weight": "bold" } },
      { selector: "edge", style: { "curve-style": "bezier", width: 2.5, "line-color": "data(colour)",
        "target-arrow-color": "data(colour)", "target-arrow-shape": "data(arrow)", "arrow-scale": 1.3 } },
      { selector: 'edge[status = "may hold"]', style: { "line-style": "dashed", "line-dash-pattern": [8, 5] } },
      { selector: 'edge[status = "undated"]', style: { "line-style": "dotted" } },
      { selector: "edge[?disputed]", style: { width: 6 } },
      { selector: "edge.labelled", style: { label: "data(words)", "font-size": 11, "text-rotation": "autorotate",
        color: "#333", "text-background-color": "#fff", "text-background-opacity": 0.85 } },
      { selector: "edge:selected", style: { "overlay-color": "#000", "overlay-opacity": 0.15 } },
      { selector: ".imu-hidden", style: { display: "none" } },
    ],
  });
  window.imuNetwork = cy;

  function setYear(value) {
    year = value;
    shown.textContent = year === "" ? "all years" : year;
    slider.value = year === "" ? slider.max : year;
    const field = document.querySelector('form.sql input[name="year"]');
    if (field) field.value = year;
    const url = new URL(location.href);
    if (year === "") url.searchParams.delete("year"); else url.searchParams.set("year", year);
    history.replaceState(null, "", url);
  }

  async function load() {
    const ask = ++asked;
    box.dataset.state = "loading";
    const url = box.dataset.data + "?" + new URLSearchParams({ group: group, year: year, _shape: "objects" });
    const answer = await (await fetch(url)).json();
    if (ask !== asked) return;  // a later year was asked for meanwhile
    draw(answer.rows || [], answer.truncated);
    box.dataset.year = year;
    box.dataset.state = "drawn";
  }

  function draw(rows, truncated) {
    const nodes = new Map();
    const edges = rows.map((r) => {
      nodes.set(r.group_id, r.group_name);
      nodes.set(r.related_group_id, r.related_group);
      const s = style[r.relation] || { colour: "#000", arrow: "triangle", words: r.relation };
      return { group: "edges", data: { id: "r:" + r.id, relation_id: r.id, source: "g:" + r.group_id,
        target: "g:" + r.related_group_id, relation: r.relation, words: s.words,
        status: r.status, disputed: r.disputed ? true : false, colour: s.colour, arrow: s.arrow, row: r } };
    });
    cy.elements().remove();
    cy.add(Array.from(nodes, ([id, name]) => ({ group: "nodes", data: { id: "g:" + id, group_id: id, name: name,
      halign: "center", valign: "bottom", dx: 0, dy: 4, wrap: 120 },
      classes: focus.has(id) ? "focus" : "" })));
    cy.add(edges);
    filter();
    arrange();
    panel.replaceChildren(paragraph("Click a line to read the quotes behind it."));
    if (truncated) count.textContent += " Only the first 1,000 relations are drawn: choose a group to see all of its own.";
  }

  // The layout, in screen pixels at zoom 1 so that labels keep their size: the group the page
  // centres on (or the one with most relations) in the middle, the others round an ellipse
  // that fills the box, in order of their relation to it; each label outside the ellipse,
  // beside its node, so that no two labels meet. On a phone, whose box is tall, two columns
  // with their labels outward. Edges are labelled when few enough not to cover one another.
  function arrange() {
    const shown = cy.nodes().not(".imu-hidden");
    const width = cy.width(), height = cy.height();
    const centre = shown.filter((n) => n.hasClass("focus")).length
      ? shown.filter((n) => n.hasClass("focus"))
      : shown.sort((a, b) => b.degree() - a.degree() || (a.data("name") < b.data("name") ? -1 : 1)).slice(0, 1);
    const ring = shown.difference(centre).sort((a, b) => {
      const ra = a.edgesWith(centre).map((e) => e.data("relation")).sort()[0] || "~";
      const rb = b.edgesWith(centre).map((e) => e.data("relation")).sort()[0] || "~";
      return ra < rb ? -1 : ra > rb ? 1 : (a.data("name") < b.data("name") ? -1 : 1);
    });
    const wrap = width < 600 ? 80 : 130;  // the widest a label may be, in pixels
    const rx = Math.max(40, width / 2 - wrap - 24), ry = Math.max(40, height / 2 - 40);
    const cx = width / 2, cyy = height / 2;
    centre.forEach((n, i) => {
      n.position({ x: cx + (i - (centre.length - 1) / 2) * 60, y: cyy });
      n.data({ halign: "center", valign: "bottom", dx: 0, dy: 4, wrap: wrap });
    });
    if (width < 600) {
      // A phone: two columns, labels outward, evenly down the box, the centre between them.
      const rows = Math.ceil(ring.length / 2), step = (height - 40) / Math.max(1, rows);
      ring.forEach((n, i) => {
        const right = i % 2 === 1, row = Math.floor(i / 2);
        n.position({ x: right ? width - wrap - 20 : wrap + 20, y: 20 + step * (row + 0.5) });
        n.data({ halign: right ? "right" : "left", valign: "center", dx: right ? 6 : -6, dy: 0, wrap: wrap });
      });
    } else {
      ring.forEach((n, i) => {
        const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, ring.length);
        const side = Math.cos(angle);
        n.position({ x: cx + rx * side, y: cyy + ry * Math.sin(angle) });
        n.data(Math.abs(side) < 0.35
          ? { halign: "center", valign: Math.sin(angle) < 0 ? "top" : "bottom", dx: 0, dy: Math.sin(angle) < 0 ? -4 : 4, wrap: wrap }
          : { halign: side > 0 ? "right" : "left", valign: "center", dx: side > 0 ? 6 : -6, dy: 0, wrap: wrap });
      });
    }
    cy.zoom(1);
    cy.pan({ x: 0, y: 0 });
    cy.edges().toggleClass("labelled", cy.edges().not(".imu-hidden").length <= (width < 600 ? 6 : 14));
  }

  function filter() {
    const on = new Set(types.filter((t) => t.checked).map((t) => t.dataset.relation));
    cy.edges().forEach((e) => {
      e.toggleClass("imu-hidden", !on.has(e.data("relation")) || (e.data("status") === "undated" && !showUndated.checked));
    });
    cy.nodes().forEach((n) => {
      n.toggleClass("imu-hidden", !n.hasClass("focus") && n.connectedEdges().not(".imu-hidden").length === 0);
    });
    const visible = cy.edges().not(".imu-hidden");
    const by = {};
    visible.forEach((e) => { by[e.data("status")] = (by[e.data("status")] || 0) + 1; });
    const parts = Object.entries(by).map(([s, n]) => `${n} ${s}`);
    count.textContent = `${year === "" ? "All years" : "In " + year}: ${visible.length} relation${visible.length === 1 ? "" : "s"}` +
      ` among ${cy.nodes().not(".imu-hidden").length} groups` + (parts.length ? ` (${parts.join(", ")}).` : ".");
  }

  function paragraph(text, cls) {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) p.className = cls;
    return p;
  }

  const STATUS = { "holds": "holds", "may hold": "may hold: its dates allow that year but do not show it",
    "undated": "undated: the sources give no date", "dated": "dated" };

  async function showClaims(edge) {
    const r = edge.data("row");
    const head = document.createElement("h3");
    head.textContent = `${r.group_name} ${edge.data("words")} ${r.related_group}`;
    const page = document.createElement("a");
    page.href = r.link;
    page.textContent = "The relation's page";
    const when = paragraph(`${year === "" ? "" : "In " + year + ": " + STATUS[r.status] + ". "}Dates: ${r.date}` +
      (r.date_text ? ` (“${r.date_text}”)` : "") + ". ");
    when.appendChild(page);
    const parts = [head, when];
    if (r.disputed) parts.push(paragraph(`Disputed: ${r.disputed}`, "imu-disputed"));
    panel.replaceChildren(...parts, paragraph("Loading the claims…"));
    const url = box.dataset.claims + "?" + new URLSearchParams({ relation: r.id, _shape: "array" });
    const claims = await (await fetch(url)).json();
    if (cy.$("edge:selected").id() !== edge.id()) return;
    const list = document.createElement("div");
    list.className = "imu-claims";
    claims.forEach((c) => {
      const item = document.createElement("div");
      item.className = "imu-claim";
      const quote = document.createElement("blockquote");
      quote.textContent = `“${c.quote}”`;
      const what = paragraph(`${c.statement} `);
      const certainty = document.createElement("span");
      certainty.className = "imu-certainty";
      certainty.textContent = c.certainty;
      what.appendChild(certainty);
      const source = paragraph(`Source: ${c.source}${c.published ? " · " + c.published : ""}` +
        (c.cited_source ? ` · citing ${c.cited_source}` : "") + " · ", "imu-meta");
      const link = document.createElement("a");
      link.href = c.link;
      link.textContent = "the claim";
      source.appendChild(link);
      item.append(quote, what, source);
      if (c.disputed) item.appendChild(paragraph(`Disputed: ${c.disputed}${c.side ? " (this side: " + c.side + ")" : ""}`, "imu-disputed"));
      list.appendChild(item);
    });
    panel.replaceChildren(...parts, paragraph(`${claims.length} claim${claims.length === 1 ? "" : "s"}:`), list);
  }

  cy.on("tap", "edge", (event) => { cy.$(":selected").unselect(); event.target.select(); showClaims(event.target); });
  slider.addEventListener("input", () => { setYear(slider.value); load(); });
  document.getElementById("imu-all-years").addEventListener("click", () => { setYear(""); load(); });
  types.concat([showUndated]).forEach((t) => t.addEventListener("change", () => { filter(); arrange(); }));
  setYear(/^[0-9]{1,4}$/.test(year) ? year : "");
  load();
})();
