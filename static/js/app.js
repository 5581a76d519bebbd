// Small conveniences only: every page works without this file.
document.addEventListener("change", function (e) {
  // Inline handlers are refused by the Content Security Policy, so controls opt in with an attribute.
  if (e.target.matches("[data-autosubmit]")) { e.target.form.submit(); return; }
  if (e.target.matches("input[data-select-all]")) {
    document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = e.target.checked; });
  }
});
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { e.preventDefault(); }
});
// Import progress: poll the job and show percent and rows/s; reload when the step is over.
(function () {
  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var bar = box.querySelector("progress"), text = box.querySelector("[data-progress-text]");
  function poll() {
    fetch(box.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (!p.running) { window.location.reload(); return; }
        if (p.percent !== null) { bar.value = p.percent; } else { bar.removeAttribute("value"); }
        if (p.done) {
          text.textContent = (p.percent !== null ? p.percent + "% · " : "") + p.done.toLocaleString() + " " +
            box.getAttribute("data-rows") + " · " + p.rate.toLocaleString() + " " + box.getAttribute("data-rate");
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
