/* Bench helpers, no dependencies, nothing required: every screen works without JavaScript.
 *
 * 1. Scan fields (input[data-scan]): a USB keyboard-wedge scanner "types" the GS1 separator GS
 *    (ASCII 29) as Ctrl+] — which a browser does not put into a text field. It is written into
 *    the field as the configured substitute (data-gs, e.g. "<GS>"), which the server reads as GS.
 *    A GS character that does arrive (paste, some scanners) is shown the same way.
 * 2. A form is sent once: a second Enter or click while the page is loading does nothing (the
 *    server refuses a double submit anyway; this only spares the message).
 * 3. Countdowns ([data-seconds-left]) tick every 30 s from the server's figure, so a wrong clock
 *    on the workstation cannot make a bag look fresher than it is.
 */
(function () {
  "use strict";
  var GS = "\u001d";

  function insertAtCursor(input, text) {
    var start = input.selectionStart === null ? input.value.length : input.selectionStart;
    var end = input.selectionEnd === null ? input.value.length : input.selectionEnd;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start + text.length;
  }

  document.querySelectorAll("input[data-scan]").forEach(function (input) {
    var substitute = input.getAttribute("data-gs") || GS;
    input.addEventListener("keydown", function (event) {
      var isGs = event.ctrlKey && !event.altKey && (event.key === "]" || event.code === "BracketRight" || event.keyCode === 221);
      if (isGs) {
        event.preventDefault();
        insertAtCursor(input, substitute);
      }
    });
    input.addEventListener("input", function () {
      if (substitute !== GS && input.value.indexOf(GS) !== -1) {
        input.value = input.value.split(GS).join(substitute);
      }
    });
  });

  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) { form.removeAttribute("data-sent"); });
  });

  var counters = document.querySelectorAll("[data-seconds-left]");
  if (counters.length) {
    var loaded = Date.now();
    var tick = function () {
      var elapsed = Math.floor((Date.now() - loaded) / 1000);
      counters.forEach(function (el) {
        var left = parseInt(el.getAttribute("data-seconds-left"), 10) - elapsed;
        if (left <= 0) {
          el.textContent = "EXPIRED";
          el.classList.add("is-expired");
          return;
        }
        var minutes = Math.floor(left / 60), hours = Math.floor(minutes / 60);
        minutes = minutes % 60;
        el.textContent = hours ? hours + " h " + (minutes < 10 ? "0" : "") + minutes + " min left" : minutes + " min left";
        if (left < 3600) { el.classList.add("is-urgent"); }
      });
    };
    window.setInterval(tick, 30000);
  }
})();
