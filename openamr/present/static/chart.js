/* Draws the chart of a household's page from its <script type="application/json" id="chart-data">
   block with uPlot. Without JavaScript, or if this fails, the table below the chart remains.
   Measured values are solid bars, estimated ones lighter bars with an orange edge, missing
   ones a gap; the table says the same in words. */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!holder || !source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var measured = [], estimated = [], missing = [];
    var top = 0;
    data.y.forEach(function (value) { if (value !== null && value > top) { top = value; } });
    data.status.forEach(function (status, i) {
      measured.push(status === "measured" ? data.y[i] : null);
      estimated.push(status === "estimated" ? data.y[i] : null);
      missing.push(status === "missing" || status === "rejected" ? (top || 1) * 0.02 : null);
    });
    var step = data.x.length > 1 ? data.x[1] - data.x[0] : 3600;
    var bars = uPlot.paths.bars({ size: [0.8, 64], align: 1 });
    var locale = data.lang === "sv" ? "sv-SE" : "en-GB";
    var number = new Intl.NumberFormat(locale, { maximumFractionDigits: data.decimals });
    var timeOptions = data.view === "day" ? { hour: "2-digit", minute: "2-digit" }
      : data.view === "month" ? { day: "numeric", month: "short" } : { month: "short" };
    timeOptions.timeZone = data.zone;  // the property's, as the table shows it
    var timeFormat = new Intl.DateTimeFormat(locale, timeOptions);
    // Ticks on whole hours and days (uPlot's own steps are for plain numbers here).
    var steps = data.view === "day" ? [3600, 7200, 10800, 21600]
      : data.view === "month" ? [86400, 2 * 86400, 7 * 86400] : undefined;

    function width() { return Math.max(280, holder.clientWidth); }
    function height() { return Math.round(Math.min(360, Math.max(220, width() * 0.45))); }

    var options = {
      width: width(),
      height: height(),
      legend: { show: false },
      // uPlot draws in a microtask after it is made: the mark is set at the first drawing
      // (`python -m bench --only pages` times the page up to it).
      hooks: { draw: [function () {
        if (window.performance && performance.mark && !performance.getEntriesByName("openamr:chart-drawn").length) { performance.mark("openamr:chart-drawn"); }
      }] },
      cursor: { points: { show: false } },
      scales: { x: { time: false, range: [data.x[0], data.x[data.x.length - 1] + step] }, y: { range: [0, null] } },
      axes: [
        { incrs: steps, values: function (u, splits) { return splits.map(function (s) { return timeFormat.format(new Date(s * 1000)); }); }, stroke: "#1b1f24", grid: { stroke: "#e5e9ee" } },
        { values: function (u, splits) { return splits.map(function (s) { return number.format(s); }); }, label: data.unit, stroke: "#1b1f24", grid: { stroke: "#e5e9ee" }, size: 60 }
      ],
      series: [
        {},
        { label: "measured", paths: bars, fill: "#0b5cad", stroke: "#0b5cad", width: 0, points: { show: false } },
        { label: "estimated", paths: bars, fill: "#f5c48f", stroke: "#b45309", width: 2, points: { show: false } },
        { label: "missing", paths: bars, fill: "#d1d5db", stroke: "#6b7280", width: 1, dash: [4, 3], points: { show: false } }
      ]
    };
    var plot = new uPlot(options, [data.x, measured, estimated, missing], holder);
    holder.setAttribute("data-drawn", "true");
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { plot.setSize({ width: width(), height: height() }); }, 100);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
