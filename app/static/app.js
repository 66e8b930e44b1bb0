// Small enhancements; every page works without them. Loaded with <script src> (the CSP
// forbids inline scripts).
(function () {
  "use strict";

  // Copy buttons: <button data-copy="element-id"> copies that input's or textarea's text.
  function copyText(source) {
    var text = "value" in source ? source.value : source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Older browsers and plain-HTTP intranets: select the text and use the legacy command.
    source.focus();
    source.select();
    var ok = document.execCommand("copy");
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function setUpCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) {
        return;
      }
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(source).then(
          function () { button.textContent = "Copied"; },
          function () { button.textContent = "Select and copy by hand"; }
        ).finally(function () {
          window.setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }

  // The agreement language follows the country until the person picks one themselves.
  function setUpLanguageDefault() {
    var select = document.querySelector("select[data-language-defaults]");
    var country = document.querySelector("input.country");
    if (!select || !country) {
      return;
    }
    var defaults;
    try {
      defaults = JSON.parse(select.getAttribute("data-language-defaults"));
    } catch (e) {
      return;
    }
    var chosen = false;
    select.addEventListener("change", function () { chosen = true; });
    country.addEventListener("input", function () {
      var code = country.value.trim().toUpperCase();
      if (!chosen && defaults[code]) {
        select.value = defaults[code];
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons();
    setUpLanguageDefault();
  });
})();
