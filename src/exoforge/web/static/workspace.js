// Draw every <figure data-figure="ID"> of a page: the element ID holds the figure as Plotly JSON
// (built on the server by the same figure code as the HTML reports). No inline script, no network.
(function () {
  "use strict";

  function draw(figure) {
    const source = document.getElementById(figure.dataset.figure);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const layout = Object.assign({}, spec.layout || {}, { autosize: true });
    delete layout.width;
    return Plotly.newPlot(figure, spec.data || [], layout, { responsive: true, displaylogo: false }).then(() => {
      figure.dataset.rendered = "true";
    });
  }

  function drawAll() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("figure[data-figure]").forEach((f) => {
      try {
        const done = draw(f);
        if (done && done.catch) done.catch((e) => { f.textContent = "The figure could not be drawn: " + e; });
      } catch (e) {
        f.textContent = "The figure could not be drawn: " + e;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
