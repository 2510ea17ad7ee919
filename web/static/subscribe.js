// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Send the browser's IANA time zone with the subscribe form (the server checks it).
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input.tz").forEach(function (input) { input.value = zone; });

  // Fixed-time events: show them in the visitor's own zone, in the server's own date
  // pattern (a CLDR pattern such as "EEE, d MMMM, HH:mm") and the page's language.
  function part(date, lang, options, type) {
    var parts = new Intl.DateTimeFormat(lang, options).formatToParts(date);
    for (var i = 0; i < parts.length; i++) { if (parts[i].type === type) { return parts[i].value; } }
    return "";
  }
  function formatPattern(date, pattern, lang) {
    var fields = {
      EEEE: function () { return part(date, lang, { weekday: "long" }, "weekday"); },
      EEE: function () { return part(date, lang, { weekday: "short" }, "weekday"); },
      MMMM: function () { return part(date, lang, { day: "numeric", month: "long" }, "month"); },
      MMM: function () { return part(date, lang, { day: "numeric", month: "short" }, "month"); },
      y: function () { return part(date, lang, { year: "numeric" }, "year"); },
      d: function () { return part(date, lang, { day: "numeric" }, "day"); },
      HH: function () { return part(date, lang, { hour: "2-digit", hourCycle: "h23" }, "hour"); },
      mm: function () { return part(date, lang, { minute: "2-digit" }, "minute").padStart(2, "0"); }
    };
    return pattern.replace(/'([^']*)'|EEEE|EEE|MMMM|MMM|y+|d+|HH|mm/g, function (token, quoted) {
      if (quoted !== undefined) { return quoted; }
      var field = fields[token] || fields[token.charAt(0)];
      return field ? field() : token;
    });
  }
  document.querySelectorAll("ul[data-pattern]").forEach(function (list) {
    var pattern = list.getAttribute("data-pattern");
    var lang = list.getAttribute("data-lang");
    var yours = list.getAttribute("data-your-time");
    list.querySelectorAll("time[data-local]").forEach(function (node) {
      try {
        var when = formatPattern(new Date(node.getAttribute("datetime")), pattern, lang);
        node.textContent = yours.replace("{when}", when);
      } catch (e) { /* keep the server's text */ }
    });
  });

  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      input.select();
      var done = function () { button.textContent = button.getAttribute("data-copied") || button.textContent; };
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
