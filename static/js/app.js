// Small conveniences only: every page works without this file.
document.addEventListener("change", function (e) {
  if (e.target.matches("input[data-select-all]")) {
    document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = e.target.checked; });
  }
});
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { e.preventDefault(); }
});
