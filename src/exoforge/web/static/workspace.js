// Draw every <figure data-plot-src> of a page with Plotly.js from the API's plot-data tables.
// A table is {columns: [{name, unit, label}], rows: [[...]]}; data-kind says how to draw it.
// Axes carry units; a fraction is always on a linear axis; positive series spanning more than
// three decades go on a log axis. The same tables are the figures' "download data" links.
(function () {
  "use strict";

  const COLOURS = ["#1f5f8b", "#c8662b", "#4d9a6a", "#8c5aa8", "#b3261e", "#7a9cc6", "#9aa3ad", "#d08c2b"];

  function isFraction(unit) {
    return /fraction/.test(unit || "");
  }

  function wantsLog(values, unit) {
    if (isFraction(unit)) return false;
    const v = values.filter((x) => typeof x === "number" && isFinite(x));
    if (v.length < 2 || v.some((x) => x <= 0)) return false;
    return Math.max(...v) / Math.min(...v) > 1000;
  }

  function axisTitle(label, unit) {
    return unit ? `${label} [${unit}]` : label;
  }

  function hover(unit) {
    return `%{y:.4g} ${unit || ""}<extra>%{fullData.name}</extra>`;
  }

  function groupsByUnit(columns, from) {
    const groups = new Map();
    columns.slice(from).forEach((c, i) => {
      const key = c.unit || c.name;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(i + from);
    });
    return [...groups.entries()];
  }

  function smallMultiples(table, chartType) {
    const cols = table.columns;
    const x = table.rows.map((r) => r[0]);
    const groups = groupsByUnit(cols, 1).filter(([, idx]) => idx.some((i) => typeof table.rows[0]?.[i] === "number"));
    const traces = [];
    const layout = { grid: { rows: groups.length, columns: 1, pattern: "independent" }, height: 230 * groups.length + 60,
                     margin: { l: 80, r: 20, t: 30, b: 50 }, legend: { orientation: "h" }, barmode: "group" };
    groups.forEach(([unit, idx], g) => {
      const n = g === 0 ? "" : String(g + 1);
      const all = [];
      idx.forEach((i, k) => {
        const y = table.rows.map((r) => (r[i] === null ? NaN : r[i]));
        all.push(...y);
        traces.push({ x, y, name: cols[i].label || cols[i].name, type: chartType,
                      mode: chartType === "scatter" ? "lines" : undefined,
                      marker: { color: COLOURS[(traces.length) % COLOURS.length] },
                      xaxis: "x" + n, yaxis: "y" + n, hovertemplate: hover(cols[i].unit) });
      });
      layout["yaxis" + n] = { title: { text: axisTitle(idx.length === 1 ? (cols[idx[0]].label || cols[idx[0]].name) : "", cols[idx[0]].unit) },
                              type: wantsLog(all, cols[idx[0]].unit) ? "log" : "linear", exponentformat: "e" };
      layout["xaxis" + n] = { title: { text: axisTitle(cols[0].label || cols[0].name, cols[0].unit) } };
    });
    return { traces, layout };
  }

  function stacked(table) {
    const [xc, sc, vc] = table.columns;
    const xs = [...new Set(table.rows.map((r) => r[0]))];
    const series = [...new Set(table.rows.map((r) => r[1]))];
    const traces = series.map((s, k) => ({
      type: "bar", name: String(s), x: xs,
      y: xs.map((x) => table.rows.filter((r) => r[0] === x && r[1] === s).reduce((a, r) => a + r[2], 0)),
      marker: { color: COLOURS[k % COLOURS.length] }, hovertemplate: hover(vc.unit),
    }));
    return { traces, layout: { barmode: "stack", height: 380, margin: { l: 80, r: 20, t: 20, b: 90 },
      yaxis: { title: { text: axisTitle(vc.label || vc.name, vc.unit) } },
      xaxis: { title: { text: xc.label || xc.name } }, legend: { title: { text: sc.name } } } };
  }

  function histograms(table) {
    const kpis = [...new Set(table.rows.map((r) => r[0]))];
    const traces = [];
    const layout = { grid: { rows: Math.ceil(kpis.length / 2), columns: 2, pattern: "independent" },
                     height: 220 * Math.ceil(kpis.length / 2) + 40, showlegend: false,
                     margin: { l: 60, r: 20, t: 20, b: 50 } };
    kpis.forEach((kpi, g) => {
      const rows = table.rows.filter((r) => r[0] === kpi);
      const unit = rows[0][1];
      const n = g === 0 ? "" : String(g + 1);
      const lows = rows.map((r) => r[2]);
      const highs = rows.map((r) => r[3]);
      const log = lows[0] > 0 && highs[highs.length - 1] / lows[0] > 30;
      const centres = rows.map((r) => (log ? Math.sqrt(r[2] * r[3]) : (r[2] + r[3]) / 2));
      traces.push({ type: "bar", x: centres, y: rows.map((r) => r[4]), width: rows.map((r) => r[3] - r[2]),
                    name: kpi, xaxis: "x" + n, yaxis: "y" + n, marker: { color: COLOURS[0] },
                    hovertemplate: `%{x:.4g} ${unit}: %{y} samples<extra>${kpi}</extra>` });
      layout["xaxis" + n] = { title: { text: axisTitle(kpi, unit) }, type: log ? "log" : "linear", exponentformat: "e" };
      layout["yaxis" + n] = { title: { text: "samples" } };
    });
    return { traces, layout };
  }

  function tornado(table) {
    const kpis = [...new Set(table.rows.map((r) => r[0]))];
    const traces = [];
    const layout = { grid: { rows: kpis.length, columns: 1, pattern: "independent" }, barmode: "overlay",
                     height: 60 + kpis.length * 340, margin: { l: 260, r: 20, t: 20, b: 50 }, showlegend: true,
                     legend: { orientation: "h" } };
    kpis.forEach((kpi, g) => {
      const rows = table.rows.filter((r) => r[0] === kpi).reverse();
      const n = g === 0 ? "" : String(g + 1);
      const unit = rows[0][1];
      const base = rows[0][3];
      const names = rows.map((r) => r[2]);
      [["at_p5", 4, COLOURS[5]], ["at_p95", 5, COLOURS[0]]].forEach(([label, i, colour]) => {
        traces.push({ type: "bar", orientation: "h", y: names, x: rows.map((r) => r[i] - base), base,
                      name: label === "at_p5" ? "parameter at its 5th percentile" : "parameter at its 95th percentile",
                      marker: { color: colour }, xaxis: "x" + n, yaxis: "y" + n, showlegend: g === 0,
                      hovertemplate: `%{base:.4g} → %{x:.4g} ${unit}<extra>%{y}</extra>` });
      });
      layout["xaxis" + n] = { title: { text: axisTitle(kpi, unit) }, exponentformat: "e" };
      layout["yaxis" + n] = { automargin: true };
    });
    return { traces, layout };
  }

  function forest(meta) {
    const studies = meta.studies || [];
    const labels = studies.map((s) => s.label || s.ref);
    const lo = studies.map((s) => Math.exp(s.log_fold - 1.96 * s.se));
    const hi = studies.map((s) => Math.exp(s.log_fold + 1.96 * s.se));
    const folds = studies.map((s) => s.fold);
    const traces = [{ type: "scatter", mode: "markers", x: folds, y: labels, name: "study (95 % CI)",
      marker: { color: COLOURS[0], size: 9, symbol: "square" },
      error_x: { type: "data", symmetric: false, array: hi.map((h, i) => h - folds[i]), arrayminus: lo.map((l, i) => folds[i] - l) },
      hovertemplate: "fold-change %{x:.3g}<extra>%{y}</extra>" }];
    if (meta.pooled) {
      const p = meta.pooled;
      traces.push({ type: "scatter", mode: "markers", x: [p.fold], y: ["pooled"], name: "pooled (95 % CI)",
        marker: { color: COLOURS[4], size: 13, symbol: "diamond" },
        error_x: { type: "data", symmetric: false, array: [p.fold_ci[1] - p.fold], arrayminus: [p.fold - p.fold_ci[0]] },
        hovertemplate: "pooled fold-change %{x:.3g}<extra></extra>" });
    }
    return { traces, layout: { height: 120 + 34 * (studies.length + 1), margin: { l: 220, r: 20, t: 20, b: 50 },
      xaxis: { type: "log", title: { text: "fold-change (treated / comparator) [dimensionless]" } },
      shapes: [{ type: "line", x0: 1, x1: 1, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#555" } }] } };
  }

  const KINDS = {
    lines: (t) => smallMultiples(t, "scatter"),
    bars: (t) => smallMultiples(t, "bar"),
    stacked, histograms, tornado, forest,
  };

  async function draw(figure) {
    const response = await fetch(figure.dataset.plotSrc, { credentials: "same-origin" });
    if (!response.ok) {
      figure.textContent = "The figure's data could not be loaded.";
      return;
    }
    const data = await response.json();
    const { traces, layout } = KINDS[figure.dataset.kind](data);
    layout.font = { size: 12 };
    await Plotly.newPlot(figure, traces, layout, { responsive: true, displaylogo: false });
    figure.dataset.rendered = "true";
  }

  function drawAll() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("figure[data-plot-src]").forEach((f) => {
      draw(f).catch((e) => { f.textContent = "The figure could not be drawn: " + e; });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
