/* Photographs of a preparation (issue 14 point 4, SAFETY.md H28). No dependencies, no plugin.
 *
 * 1. A photo panel ([data-photo-capture]) asks the browser for the camera (getUserMedia), shows the live
 *    preview, and once the preview shows its first picture enables the "Take photo" button, which gets the
 *    focus when the photo is still to take
 *    (Enter or Space takes it: gloved hands, no mouse). The frame is drawn on a canvas (at most MAX_SIDE
 *    pixels on its longer side) and sent as a JPEG (canvas.toBlob) with the form's CSRF token and the
 *    preparation's version; the server measures it and keeps it or refuses it with what to do, which is
 *    shown here while the preview goes on. A kept photo loads the screen again (the next step).
 *    A photo whose subject carries the bag's in-process label ([data-label-scan]) is taken by scanning
 *    that label instead: the scanner's Enter takes the picture and sends the scan with it, and the server
 *    keeps the photo only if the label is this bag's (SAFETY.md H27) — the focus waits in that field.
 *    Without a camera (none, refused, or no secure context) the panel says so plainly: the server still
 *    refuses the step the photo guards. The texts shown come from the panel's data-msg-* attributes
 *    (templates/prep/_photo.html), in the screen's language; the English here is only their fallback.
 * 2. A photo link ([data-zoom]) opens the photo at full size in a dialog (Esc or the button closes it);
 *    without this script the link opens the photo itself.
 */
(function () {
  "use strict";
  var MAX_SIDE = 1280, QUALITY = 0.9;

  function say(panel, name, english) {
    return panel.getAttribute("data-msg-" + name) || english;
  }

  function cameraMissing(panel, why) {
    var missing = panel.querySelector("[data-camera-missing]");
    var waiting = panel.querySelector("[data-camera-waiting]");
    if (waiting) { waiting.hidden = true; }
    if (missing) {
      missing.querySelector("[data-camera-why]").textContent = why ? " (" + why + ")" : "";
      missing.hidden = false;
    }
  }

  function whyNot(panel, error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") { return say(panel, "not-allowed", "the browser was not allowed to use it"); }
    if (name === "NotFoundError" || name === "OverconstrainedError") { return say(panel, "none-connected", "none is connected"); }
    if (name === "NotReadableError") { return say(panel, "in-use", "another program is using it"); }
    return name || say(panel, "did-not-start", "it did not start");
  }

  function whenPicture(video, then) {
    var done = false;
    function check() {
      if (!done && video.readyState >= 2 && video.videoWidth && video.videoHeight) {
        done = true;
        video.removeEventListener("loadeddata", check);
        video.removeEventListener("playing", check);
        then();
      }
    }
    video.addEventListener("loadeddata", check);
    video.addEventListener("playing", check);
    check();
  }

  document.querySelectorAll("[data-photo-capture]").forEach(function (panel) {
    var form = panel.querySelector("[data-photo-form]");
    if (!form) { return; }
    var video = panel.querySelector("[data-preview]");
    var button = form.querySelector("[data-take]");
    var label = form.querySelector("[data-label-scan]");
    var status = panel.querySelector("[data-photo-status]");
    var problem = panel.querySelector("[data-photo-error]");
    var scanned = false;  // the photo on its way was taken by a label scan: a refusal waits for the next scan

    function refuse(text) {
      status.textContent = "";
      problem.textContent = text;
      problem.hidden = false;
      button.disabled = false;
      if (label) { label.disabled = false; }
      if (scanned) { label.select(); label.focus(); } else { button.focus(); }
    }

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraMissing(panel, say(panel, "no-camera-api", "this browser offers no camera on this page"));
      return;
    }
    navigator.mediaDevices.getUserMedia({audio: false, video: {width: {ideal: 1280}, height: {ideal: 720},
                                                               facingMode: "environment"}})
      .then(function (stream) {
        video.srcObject = stream;
        panel.querySelector("[data-camera]").hidden = false;
        // the button is offered (and takes the focus) only once the preview shows a picture: a stream
        // without a first frame yet gives a photo of nothing, and Enter pressed at once would be refused
        whenPicture(video, function () {
          panel.querySelector("[data-camera-waiting]").hidden = true;
          button.disabled = false;
          var first = form.querySelector("[data-autofocus]");
          if (first) { first.focus(); }
        });
      })
      .catch(function (error) { cameraMissing(panel, whyNot(panel, error)); });

    function take(labelScan) {
      scanned = labelScan !== null;
      if (!video.videoWidth || !video.videoHeight) {
        refuse(say(panel, "not-ready", "The camera has not shown a picture yet: wait for the preview, then take the photo."));
        return;
      }
      var scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      button.disabled = true;
      if (label) { label.disabled = true; }
      problem.hidden = true;
      status.textContent = say(panel, "checking", "Checking the photo…");
      canvas.toBlob(function (blob) {
        if (!blob) { refuse(say(panel, "no-picture", "The picture could not be made from the preview: take the photo again.")); return; }
        var data = new FormData(form);  // (a disabled field is left out of it: the scan is added here)
        data.delete("label_scan");
        if (labelScan !== null) { data.append("label_scan", labelScan); }
        data.append("photo", blob, form.getAttribute("data-kind") + ".jpg");
        fetch(form.action, {method: "POST", body: data, credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (response) {
            return response.json().then(function (body) { return {ok: response.ok, body: body}; }, function () {
              return {ok: false, body: {error: say(panel, "not-accepted", "The server did not accept the photo (status {status}). " +
                                                   "Take it again; if it happens again, reload the page.")
                                                .replace("{status}", response.status)}};
            });
          })
          .then(function (result) {
            if (result.ok && result.body.next) {
              status.textContent = say(panel, "kept", "Photo kept.");
              window.location.assign(result.body.next);
            } else {
              refuse(result.body.error || say(panel, "refused", "The photo was refused. Take it again."));
            }
          })
          .catch(function () { refuse(say(panel, "not-sent", "The photo could not be sent (no connection to the server). Take it again.")); });
      }, "image/jpeg", QUALITY);
    }

    button.addEventListener("click", function () { take(null); });
    if (label) {
      // the scanner types the label, then Enter: that Enter takes the photo (it never sends the form itself)
      label.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") { return; }
        event.preventDefault();
        if (label.value.trim()) { take(label.value); }
      });
    }
  });

  var dialog = document.querySelector("[data-zoom-dialog]");
  if (dialog && typeof dialog.showModal === "function") {
    var full = dialog.querySelector("[data-zoom-image]");
    document.querySelectorAll("a[data-zoom]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var image = link.querySelector("img");
        full.src = link.getAttribute("href");
        full.alt = image ? image.alt : "";
        dialog.showModal();
      });
    });
    dialog.addEventListener("click", function (event) { if (event.target === dialog || event.target === full) { dialog.close(); } });
  }
})();
