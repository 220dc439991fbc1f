// The queue, live: the case event stream (same-origin EventSource sends the session cookie) refreshes the list,
// a red case shows an alert and, when switched on, plays a short tone; the tab title counts red cases.
(function () {
  "use strict";
  var list = document.getElementById("queue");
  if (!list || !window.EventSource) { return; }
  var alertBox = document.getElementById("live-alert");
  var sound = document.getElementById("sound");
  var baseTitle = document.title;

  function countRed() {
    var red = list.querySelectorAll("li.red").length;
    document.title = red > 0 ? "(" + red + ") " + baseTitle : baseTitle;
  }

  function tone() {
    if (!sound || !sound.checked) { return; }
    try {
      var context = new (window.AudioContext || window.webkitAudioContext)();
      var oscillator = context.createOscillator();
      oscillator.frequency.value = 660;
      oscillator.connect(context.destination);
      oscillator.start();
      oscillator.stop(context.currentTime + 0.25);
    } catch (ignored) { /* no audio on this device */ }
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { window.location.reload(); return null; }
        return response.text();
      })
      .then(function (text) {
        if (text === null || text === undefined) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("queue");
        if (fresh) { list.innerHTML = fresh.innerHTML; countRed(); tick(); }
      })
      .catch(function () { /* the next event tries again */ });
  }

  var ALERTING = { "case.opened": true, "case.raised": true, "case.escalated": true, "case.repaged": true };
  var KINDS = ["case.opened", "case.raised", "case.escalated", "case.repaged", "case.claimed", "case.updated",
    "case.closed", "case.message"];
  var stream = new EventSource("/api/v1/events");
  KINDS.forEach(function (kind) {
    stream.addEventListener(kind, function (message) {
      var event = {};
      try { event = JSON.parse(message.data); } catch (ignored) { return; }
      if (ALERTING[kind] && event.case && event.case.level === "red") {
        if (alertBox) { alertBox.textContent = alertBox.getAttribute("data-red"); alertBox.hidden = false; }
        tone();
      }
      refresh();
    });
  });
  stream.addEventListener("reload", refresh);

  // The SLA countdown: every deadline still waiting for a claim ticks down in whole minutes.
  function tick() {
    var left = list.getAttribute("data-left") || "{m}";
    var late = list.getAttribute("data-late") || "-{m}";
    var spans = list.querySelectorAll("[data-deadline]");
    for (var i = 0; i < spans.length; i++) {
      var ms = Date.parse(spans[i].getAttribute("data-deadline")) - Date.now();
      var minutes = Math.max(0, Math.round(Math.abs(ms) / 60000));
      spans[i].textContent = (ms >= 0 ? left : late).replace("{m}", String(minutes));
      spans[i].className = ms >= 0 ? "" : "overdue";
    }
  }
  tick();
  window.setInterval(tick, 15000);
  countRed();
})();
