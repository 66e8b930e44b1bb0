// The bulk import pages: refuse a file over the size limit before sending it, and keep the
// progress of a running import up to date. Every page works without this script.
(function () {
  "use strict";

  function setUpSizeCheck() {
    var form = document.querySelector("form[data-import-upload]");
    var input = form && form.querySelector("input[type=file][data-max-bytes]");
    var warning = form && form.querySelector("[data-too-large]");
    if (!input || !warning) {
      return;
    }
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    function tooLarge() {
      var file = input.files && input.files[0];
      return Boolean(file && limit && file.size > limit);
    }
    input.addEventListener("change", function () { warning.hidden = !tooLarge(); });
    form.addEventListener("submit", function (event) {
      if (tooLarge()) {
        warning.hidden = false;
        event.preventDefault();
      }
    });
  }

  function setUpProgress() {
    var box = document.querySelector("[data-import-progress]");
    if (!box || box.getAttribute("data-active") !== "true") {
      return;
    }
    var url = box.getAttribute("data-import-progress");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var status = document.querySelector("[data-import-status]");
    var delay = 1000;

    function show(p) {
      bar.max = Math.max(p.total, 1);
      bar.value = p.done;
      bar.textContent = p.percent + "%";
      text.textContent = p.text;
      if (status) {
        status.textContent = p.label;
      }
      ["created", "duplicate", "failed"].forEach(function (name) {
        var cell = box.querySelector("[data-count=" + name + "]");
        if (cell) {
          cell.textContent = p[name].toLocaleString();
        }
      });
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (p) {
          show(p);
          if (p.active) {
            delay = 1000;
            window.setTimeout(poll, delay);
          } else {
            // Finished: load the page again to list the rows that were not imported.
            window.location.reload();
          }
        })
        .catch(function () {
          // Signed out, or the server is busy: try again less often.
          delay = Math.min(delay * 2, 30000);
          window.setTimeout(poll, delay);
        });
    }

    window.setTimeout(poll, delay);
  }

  setUpSizeCheck();
  setUpProgress();
})();
