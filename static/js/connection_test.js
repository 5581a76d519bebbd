// Connection test progress: poll the test's status while a worker has not finished it; reload when it is over,
// show the "no worker" warning when it waits too long. The page works without this file (a Refresh link).
(function () {
  var box = document.querySelector("[data-test-url]");
  if (!box) { return; }
  var stalled = document.getElementById("test-stalled"), status = document.getElementById("test-status");
  function poll() {
    fetch(box.getAttribute("data-test-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (t) {
        if (t.finished) { window.location.reload(); return; }
        if (status && t.label) { status.textContent = t.label; status.className = "badge " + t.status; }
        if (stalled) { stalled.hidden = !t.stalled; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
