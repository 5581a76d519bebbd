// The print pages' Print button (inline handlers are refused by the Content Security Policy).
document.addEventListener("click", function (e) {
  if (e.target.closest("[data-print]")) { window.print(); }
});
