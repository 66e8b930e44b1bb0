// The dashboard's chart of confirmations per day. The numbers come from a JSON data block
// (<script type="application/json">), never inline code (the CSP forbids it); without
// JavaScript, or if Chart.js fails, the table of the same numbers stays on screen.
(function () {
  "use strict";

  function readData() {
    var block = document.getElementById("confirmations-chart-data");
    if (!block) {
      return null;
    }
    try {
      var data = JSON.parse(block.textContent);
      if (!Array.isArray(data.labels) || !Array.isArray(data.counts)) {
        return null;
      }
      return data;
    } catch (e) {
      return null;
    }
  }

  function drawChart() {
    var canvas = document.getElementById("confirmations-chart");
    var table = document.getElementById("confirmations-table");
    var data = readData();
    if (!canvas || !data || typeof window.Chart !== "function") {
      return;
    }
    canvas.hidden = false;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: canvas.getAttribute("data-label") || "Confirmations",
          data: data.counts,
          backgroundColor: "#0b5cad"
        }]
      },
      options: {
        animation: false,
        responsive: true,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    // The chart is a picture of the table: the table stays for screen readers.
    if (table) {
      table.classList.add("visually-hidden");
    }
  }

  document.addEventListener("DOMContentLoaded", drawChart);
})();
