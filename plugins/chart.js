/* The chart of events per year (templates/query-imu-events_per_year.html): the
   `events_per_year` canned query's rows, for the page's group and country, as bars stacked by
   type with Observable Plot. Solid: events dated within the year; lighter: the year's share
   of events whose dates span several years (the query spreads them). Each bar links to its
   events. The data's URL comes from the page (data-data), so content-hashed routes work. */
(function () {
  "use strict";
  const box = document.getElementById("imu-chart");
  if (!box || !window.Plot) return;
  box.hidden = false;
  const here = new URLSearchParams(location.search);
  const asked = new URLSearchParams({ group: here.get("group") || "", country: here.get("country") || "", _shape: "array" });

  fetch(box.dataset.data + "?" + asked).then((r) => r.json()).then((rows) => {
    const bars = [];
    for (const layer of ["dated", "share"]) {
      for (const r of rows) {
        const value = layer === "dated" ? r.dated_in_year : r.share_of_wider;
        if (!value) continue;
        bars.push({ year: r.year, type: r.event_type, layer: layer, value: value, link: r.link,
          title: layer === "dated"
            ? `${r.year}, ${r.event_type}: ${r.dated_in_year} dated within the year`
            : `${r.year}, ${r.event_type}: ${r.share_of_wider} (share of ${r.wider} event${r.wider === 1 ? "" : "s"} dated over several years)` });
      }
    }
    // Ten colours tell ten things apart: the nine commonest types here get one each, the
    // rest share "other types" (each bar's tooltip and link still name its own type).
    const totals = new Map();
    for (const b of bars) totals.set(b.type, (totals.get(b.type) || 0) + b.value);
    const named = new Set([...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, totals.size > 10 ? 9 : 10).map(([type]) => type));
    for (const b of bars) b.colour = named.has(b.type) ? b.type : "other types";
    const years = rows.map((r) => r.year);
    const plot = window.Plot.plot({
      width: Math.max(640, Math.min(1100, box.clientWidth || 900)),
      height: 420,
      marginLeft: 45,
      x: { label: "Year", tickFormat: "d", domain: [Math.min(...years), Math.max(...years) + 1] },
      y: { label: "Events", grid: true },
      color: { legend: true, label: "Type of event", type: "categorical", scheme: "tableau10",
        domain: [...[...named].sort(), ...(totals.size > named.size ? ["other types"] : [])] },
      marks: [
        window.Plot.rectY(bars, {
          x1: "year", x2: (d) => d.year + 1, y: "value", fill: "colour",
          fillOpacity: (d) => (d.layer === "dated" ? 1 : 0.35),
          z: (d) => d.layer + " " + d.type, order: null,
          href: "link", title: "title", insetLeft: 1, insetRight: 1,
        }),
        window.Plot.ruleY([0]),
      ],
    });
    // Plot names its marks' groups (aria-label on <g>), which ARIA allows only with a role.
    plot.querySelectorAll("g[aria-label]:not([role])").forEach((g) => g.setAttribute("role", "group"));
    const target = document.getElementById("imu-chart-plot");
    target.replaceChildren(plot);
    box.dataset.state = "drawn";
    box.dataset.bars = String(bars.length);
  });
})();
