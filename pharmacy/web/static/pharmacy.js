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
 * 4. Live countdowns ([data-use-by], ISO with offset) tick every 5 s, measured against the server's
 *    clock ([data-server-now] on the page) for the same reason. A page marked data-reload-on-expiry
 *    (the dashboard) reloads when one runs out, so the server decides the new state and offers the
 *    discard; not while someone is typing in it.
 * 5. A form with two scan fields (bag, then location): Enter in the first moves on to the second
 *    while that is still empty, instead of sending the form half-filled.
 * 6. Scanned or typed (SAFETY.md H7): a keyboard-wedge scanner types a whole code quickly (each
 *    character pressed well under SCAN_MS after the one before, by the key events' own times) and
 *    ends with Enter; a person types slower, corrects, or pastes. A scan field with data-entry="ID"
 *    keeps the hidden input ID at "typed" unless the code came in that way, then "scanned". The
 *    server takes anything but "scanned" as typed (no script, no field: typed), and a code with a
 *    GS1 symbology identifier as scanned.
 * 8. Focus lands on the next thing to do (scanner and keyboard only): the page's [autofocus] control
 *    gets it even where the browser skipped it; a field with data-next that arrives filled (a scan
 *    carried from the worklist) hands it on at once. Enter in such a field never sends the form: it
 *    moves on to data-next (the first of its selectors on the page). A radio with data-next hands
 *    focus on when chosen (Release → the password, Reject → the reason). Nothing is ever chosen for you.
 * 9. The menu's drop-downs (<details> in the top bar): one open at a time, Escape closes it and gives
 *    the focus back to its title, a click elsewhere closes it.
 * 10. A print the page starts by itself (form[data-print-on-load]: the in-process label, once the diluent bag is
 *    scanned): sent once when the page loads (once per tab, even if the print fails), its button kept to
 *    print again. Only a print is ever sent this way, never a decision.
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

  var SCAN_MS = 50, SCAN_MIN = 3;
  document.querySelectorAll("input[data-scan][data-entry]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-entry"));
    if (!target) { return; }
    var last = 0, count = 0, slow = false, manual = false, keyed = false;
    var modifiers = ["Shift", "Control", "Alt", "AltGraph", "Meta", "CapsLock"];
    input.addEventListener("keydown", function (event) {
      // when the key was pressed (the event's own time), not when this busy page got to it: keys a person
      // typed slowly while the page was busy arrive together and must not look like a scanner's
      var now = event.timeStamp > 0 ? event.timeStamp : performance.now();
      target.value = "typed";
      if (event.key === "Enter") {
        if (!manual && !slow && count >= SCAN_MIN && now - last < SCAN_MS) { target.value = "scanned"; }
        return;
      }
      if (modifiers.indexOf(event.key) !== -1) { return; }
      if (event.key.length !== 1) { manual = true; return; }  // Backspace, arrows, Tab …: a person
      if (input.value === "") { count = 0; slow = false; manual = false; last = 0; }
      if (last && now - last >= SCAN_MS) { slow = true; }
      last = now;
      count += 1;
      keyed = true;
    });
    input.addEventListener("input", function () {
      target.value = "typed";
      if (!keyed) { manual = true; }  // text without keys: pasted, autofilled, dictated
      keyed = false;
      if (input.value === "") { count = 0; slow = false; manual = false; last = 0; }
    });
  });

  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      /* 7. A form that downloads a file (a label PDF) leaves the page where it is: reload it once the
       *    download has started, so the screen shows what the print changed (the next print is a
       *    REPRINT; the label is to be scanned back on the bag) and the form can be sent again. */
      if (form.hasAttribute("data-download")) {
        setTimeout(function () { window.location.reload(); }, 1200);
      }
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) { form.removeAttribute("data-sent"); });
  });
  var printNow = document.querySelector("form[data-print-on-load][data-download]");
  if (printNow && typeof printNow.requestSubmit === "function") {
    var printed = "printed-on-load " + printNow.getAttribute("action");
    if (!window.sessionStorage.getItem(printed)) {
      window.sessionStorage.setItem(printed, "1");
      printNow.requestSubmit();
    }
  }

  /* the screen's texts in its language (base.html's <body data-text-…>, from web/i18n.py); English without them */
  function text(key, english) {
    return (document.body && document.body.getAttribute("data-text-" + key)) || english;
  }

  /* the same words as the server's countdown filter (web/common.countdown); true when it runs out now */
  function showLeft(el, left) {
    var row = el.closest("[data-bag-row]");
    if (left <= 0) {
      var crossed = !el.classList.contains("is-expired");
      el.textContent = text("expired", "EXPIRED");
      el.classList.remove("is-urgent");
      el.classList.add("is-expired");
      if (row) { row.classList.remove("is-urgent"); row.classList.add("is-expired"); }
      return crossed;
    }
    var minutes = Math.floor(left / 60), hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    var padded = (minutes < 10 ? "0" : "") + minutes;
    el.textContent = hours
      ? text("hours-left", "{hours} h {minutes:02d} min left").replace("{hours}", hours).replace("{minutes:02d}", padded)
      : text("minutes-left", "{minutes} min left").replace("{minutes}", minutes);
    if (left < 3600) {
      el.classList.add("is-urgent");
      if (row) { row.classList.add("is-urgent"); }
    }
    return false;
  }

  var counters = document.querySelectorAll("[data-seconds-left]");
  if (counters.length) {
    var loaded = Date.now();
    var tick = function () {
      var elapsed = Math.floor((Date.now() - loaded) / 1000);
      counters.forEach(function (el) {
        showLeft(el, parseInt(el.getAttribute("data-seconds-left"), 10) - elapsed);
      });
    };
    window.setInterval(tick, 30000);
  }

  var live = document.querySelectorAll("[data-use-by]");
  if (live.length) {
    var anchor = document.querySelector("[data-server-now]");
    var skew = anchor ? Date.parse(anchor.getAttribute("data-server-now")) - Date.now() : 0;
    var busy = function () {
      var active = document.activeElement;
      return document.querySelector("details[open]") !== null ||
        (active !== null && ["INPUT", "SELECT", "TEXTAREA"].indexOf(active.tagName) !== -1);
    };
    var render = function () {
      var now = Date.now() + skew, ranOut = false;
      live.forEach(function (el) {
        var left = Math.floor((Date.parse(el.getAttribute("data-use-by")) - now) / 1000);
        ranOut = showLeft(el, left) || ranOut;
      });
      if (ranOut && anchor && anchor.hasAttribute("data-reload-on-expiry") && !busy()) {
        window.location.reload();
      }
    };
    render();
    window.setInterval(render, 5000);
  }

  document.querySelectorAll("form").forEach(function (form) {
    var scans = form.querySelectorAll("input[data-scan]");
    if (scans.length < 2) { return; }
    scans.forEach(function (input, index) {
      var next = scans[index + 1];
      if (!next) { return; }
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && input.value.trim() !== "" && next.value.trim() === "") {
          event.preventDefault();
          next.focus();
        }
      });
    });
  });

  function nextOf(el) {
    var targets = document.querySelectorAll(el.getAttribute("data-next"));
    for (var i = 0; i < targets.length; i += 1) {
      if (!targets[i].disabled && targets[i].offsetParent !== null) { return targets[i]; }
    }
    return null;
  }
  document.querySelectorAll("input[data-next]").forEach(function (input) {
    var isChoice = input.type === "radio" || input.type === "checkbox";
    input.addEventListener(isChoice ? "change" : "keydown", function (event) {
      if (!isChoice && event.key !== "Enter") { return; }
      if (!isChoice) { event.preventDefault(); }
      if (isChoice && !input.checked) { return; }
      if (!isChoice && input.value.trim() === "") { return; }
      var next = nextOf(input);
      if (next) { next.focus(); }
    });
  });
  var first = Array.prototype.find.call(document.querySelectorAll("[autofocus]"), function (el) {
    return !el.disabled && el.offsetParent !== null && !el.closest("dialog:not([open])");
  });
  if (first && (document.activeElement === null || document.activeElement === document.body)) { first.focus(); }
  var focused = document.activeElement;
  if (focused && focused.matches("input[data-next]") && focused.type === "text" && focused.value.trim() !== "") {
    var then = nextOf(focused);
    if (then) { then.focus(); }
  }

  var menus = document.querySelectorAll(".topbar details");
  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (!menu.open) { return; }
      menus.forEach(function (other) { if (other !== menu) { other.open = false; } });
      var list = menu.querySelector("ul");  // near the right edge (a tablet): open leftwards, on screen
      menu.classList.remove("to-left");
      if (list && list.getBoundingClientRect().right > document.documentElement.clientWidth) { menu.classList.add("to-left"); }
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) { if (menu.open && !menu.contains(event.target)) { menu.open = false; } });
  });
})();
