/* Progress of a background CSV export (templates/admin/exports/status.html): polls the job's URL for
   JSON ({status, status_label, done, total, download_url}) and updates the <progress> bar, the text and
   the download link. No inline script: the site's Content-Security-Policy forbids it. Without
   JavaScript the page still works: its "Refresh this page" link shows the current state. */
(function () {
  "use strict";

  var job = document.getElementById("export-job");
  if (!job || !window.fetch) {
    return;
  }
  var url = job.dataset.statusUrl;
  var rowsText = job.dataset.rowsText || "{done} / {total}";
  var bar = document.getElementById("export-progress");
  var statusLabel = document.getElementById("export-status-label");
  var rows = document.getElementById("export-rows");
  var download = document.getElementById("export-download");
  var failed = document.getElementById("export-failed");
  var refresh = document.getElementById("export-refresh");
  var delay = 1000;

  function finished(status) {
    return status === "done" || status === "failed";
  }

  function show(state) {
    bar.max = Math.max(state.total, 1);
    bar.value = state.status === "done" ? bar.max : Math.min(state.done, bar.max);
    statusLabel.textContent = state.status_label;
    rows.textContent = rowsText.replace("{done}", state.done).replace("{total}", state.total);
    if (state.download_url) {
      download.querySelector("a").href = state.download_url;
      download.hidden = false;
    }
    failed.hidden = state.status !== "failed";
    refresh.hidden = finished(state.status);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          var error = new Error(String(response.status));
          error.status = response.status;
          throw error;
        }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (!finished(state.status)) {
          // Back off gently on a long export: one request a second at first, one every 5 s at most.
          delay = Math.min(delay * 1.25, 5000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function (error) {
        // A 4xx will not get better (the job expired, or the session ended): leave the refresh link.
        if (error.status && error.status < 500) {
          return;
        }
        window.setTimeout(poll, 5000);
      });
  }

  if (!finished(job.dataset.status)) {
    window.setTimeout(poll, delay);
  }
})();
