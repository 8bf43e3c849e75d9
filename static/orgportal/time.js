/* orgportal: timestamps in the reader's own zone, and live countdowns.
 * The server renders every time in UTC (it stays in the HTML); this adds the local time beside it
 * and keeps "3 hours left" current. Loaded as a static file: the CSP forbids inline scripts. */
(function () {
  "use strict";
  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "local";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
  });

  function localize(root) {
    root.querySelectorAll("time[data-local]:not([data-localized])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      el.setAttribute("data-localized", "");
      if (zone === "UTC" || zone === "Etc/UTC") { return; }
      if (el.getAttribute("data-local") === "title") {
        // A compact list cell stays one line: the local time goes in the tooltip.
        el.title = el.title + " · " + fmt.format(when) + " " + zone;
        return;
      }
      var span = document.createElement("span");
      span.className = "local-time muted";
      span.textContent = " (" + fmt.format(when) + " " + zone + ")";
      el.after(span);
    });
  }

  function left(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 48) { return hours + " h " + (minutes % 60) + " min"; }
    return Math.floor(hours / 24) + " days " + (hours % 24) + " h";
  }

  // The same rule as orgportal/deadlines.py: notice under 7 days, warning under 48 h, urgent under 24 h.
  var HOUR = 3600 * 1000;
  var LEVELS = ["notice", "warning", "urgent", "passed"];
  function urgency(ms) {
    if (ms <= 0) { return "passed"; }
    if (ms < 24 * HOUR) { return "urgent"; }
    if (ms < 48 * HOUR) { return "warning"; }
    if (ms < 7 * 24 * HOUR) { return "notice"; }
    return "";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      var ms = when - now;
      var level = urgency(ms);
      el.textContent = ms <= 0 ? "deadline passed" : left(ms) + " left";
      LEVELS.forEach(function (name) { el.classList.toggle(name, name === level); });
    });
  }

  function run(root) { localize(root || document); tick(); }
  document.addEventListener("DOMContentLoaded", function () { run(document); });
  document.addEventListener("htmx:afterSettle", function (event) { run(event.target); });
  setInterval(tick, 30000);
})();
