// Robot "send test" progress: poll the test while a worker has not sent it; reload when it is over. The page
// works without this file (reload it to see the result).
(function () {
  document.querySelectorAll("[data-robot-test-url]").forEach(function (cell) {
    function poll() {
      fetch(cell.getAttribute("data-robot-test-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (t) {
          if (t.finished) { window.location.reload(); return; }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  });
})();
