// Hall screen: refresh the figures every data-refresh-seconds without a white flash, keep the last
// figures on screen when the network is down, and tick the clock.  No inline script (CSP).
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-refresh-seconds"), 10) || 60;
  var clock = document.getElementById("clock");
  var stale = document.getElementById("stale");

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var d = new Date();
    // Asia/Shanghai is UTC+8 all year.
    var t = new Date(d.getTime() + (d.getTimezoneOffset() + 480) * 60000);
    clock.textContent = t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " +
      pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds());
  }

  function refresh() {
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        var main = next.getElementById("screen-main");
        var foot = next.querySelector(".screen-foot");
        if (main) { document.getElementById("screen-main").replaceWith(main); }
        if (foot) { document.querySelector(".screen-foot").replaceWith(foot); }
        fitLatest();
        stale.hidden = true;
      })
      .catch(function () { stale.hidden = false; });
  }

  // A rectified case that does not fit whole under the list's bottom edge is left out, not cut
  // mid-line (the list shows the newest first; the next refresh brings them again).
  function fitLatest() {
    var list = document.querySelector(".latest-list");
    if (!list || getComputedStyle(list).overflow === "visible") { return; }
    var bottom = list.getBoundingClientRect().bottom;
    var items = list.querySelectorAll("article");
    for (var i = 0; i < items.length; i++) {
      items[i].hidden = false;
      if (items[i].getBoundingClientRect().bottom > bottom + 1) {
        for (var j = i; j < items.length; j++) { items[j].hidden = true; }
        break;
      }
    }
  }

  fitLatest();
  window.addEventListener("resize", fitLatest);
  if (clock) { tick(); setInterval(tick, 1000); }
  setInterval(refresh, seconds * 1000);
}());
