// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Send the browser's IANA time zone with the subscribe form (the server checks it).
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input.tz").forEach(function (input) { input.value = zone; });

  // Fixed-time events: show them in the visitor's own zone.
  document.querySelectorAll("time[data-local]").forEach(function (node) {
    try {
      node.textContent = new Date(node.getAttribute("datetime")).toLocaleString(undefined, {
        weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit"
      }) + " your time";
    } catch (e) { /* keep the server's text */ }
  });

  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      input.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  // Apple and ICSx5 open webcal:// links with a subscribe sheet: open it once, at once.
  var open = document.querySelector("[data-autoopen]");
  if (open && !sessionStorage.getItem("opened:" + location.pathname)) {
    sessionStorage.setItem("opened:" + location.pathname, "1");
    window.location.href = open.getAttribute("href");
  }
})();
