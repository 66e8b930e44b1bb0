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

  // A form that came back with errors: move focus to its summary at the top, so a screen
  // reader announces it and a keyboard user starts from the list of fields to correct.
  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  }

  // The summary's links jump to a field: focus that field itself (a plain #anchor only
  // scrolls there), with its label in view above it.
  function setUpErrorSummaryLinks() {
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) {
          return;
        }
        event.preventDefault();
        var label = document.querySelector("label[for='" + target.id + "']");
        (label || target).scrollIntoView({ block: "center" });
        target.focus({ preventScroll: true });
      });
    });
  }

  // Texts this script adds to the page, in the page's language.
  var TEXTS = {
    en: { menu: "Menu" },
    ko: { menu: "메뉴" }
  };
  function text(key) {
    var lang = (document.documentElement.lang || "en").slice(0, 2);
    return (TEXTS[lang] || TEXTS.en)[key];
  }

  // Narrow screens fold the main navigation behind a Menu button (the stylesheet shows the
  // button only there, and only with this script: without it the links stay listed).
  function setUpMenu() {
    var nav = document.querySelector(".topbar nav");
    var bar = document.querySelector(".topbar");
    if (!nav || !bar) {
      return;
    }
    nav.id = nav.id || "main-nav";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "menu-toggle";
    button.textContent = text("menu");
    button.setAttribute("aria-controls", nav.id);
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
    // Escape closes the open menu and gives focus back to its button.
    nav.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        nav.classList.remove("open");
        button.setAttribute("aria-expanded", "false");
        button.focus();
      }
    });
    bar.insertBefore(button, nav);
  }

  // Mark the navigation link of the page being shown (the longest matching path wins, so
  // /reseller/acceptances/new marks "New acceptance", not "Acceptances").
  function markCurrentLink() {
    var best = null;
    var path = window.location.pathname;
    document.querySelectorAll(".topbar nav a[href]").forEach(function (link) {
      var target = link.pathname;
      var matches = path === target || (target.length > 1 && path.indexOf(target.replace(/\/$/, "") + "/") === 0);
      if (matches && (!best || target.length > best.pathname.length)) {
        best = link;
      }
    });
    if (best) {
      best.setAttribute("aria-current", "page");
    }
  }

  // Each table sits in a box that scrolls sideways when the table is wider than the screen,
  // so a phone scrolls the table, never the page. Cells of prose (long texts) may wrap; the
  // stylesheet keeps the others on one line there. A box that scrolls takes keyboard focus,
  // so that it can be scrolled with the arrow keys too.
  function wrapTables() {
    document.querySelectorAll("main table").forEach(function (table) {
      var parent = table.parentElement;
      if (!parent.classList.contains("table-scroll") && !parent.classList.contains("scroll")) {
        var box = document.createElement("div");
        box.className = "table-scroll";
        parent.insertBefore(box, table);
        box.appendChild(table);
      }
      table.querySelectorAll("td").forEach(function (cell) {
        var text = cell.textContent.trim();
        if (text.length > 48) {
          cell.classList.add("long");
        } else if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
          cell.classList.add("date");  // a date reads badly broken at its hyphens
        }
      });
    });
    markScrollingBoxes();
  }

  function markScrollingBoxes() {
    document.querySelectorAll("main .table-scroll, main .scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }

  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    markCurrentLink();
    wrapTables();
    window.addEventListener("resize", markScrollingBoxes);
    setUpCopyButtons();
    setUpLanguageDefault();
    setUpErrorSummaryLinks();
    focusErrorSummary();
  });
})();
