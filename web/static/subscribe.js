// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Send the browser's IANA time zone with the subscribe form (the server checks it).
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input.tz").forEach(function (input) { input.value = zone; });

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
