// The orders workbench: row selection (this page or every matching order) and the live list.
// The page works without it: ticking boxes and the bulk buttons are plain form controls.
(function () {
  var form = document.getElementById("bulk-orders");
  if (!form) { return; }
  var scope = form.querySelector("[data-scope]");
  var text = form.querySelector("[data-selected-text]");
  var matching = form.querySelector("[data-select-matching]");
  var pageBox = form.querySelector("[data-select-page]");

  function boxes() { return form.querySelectorAll("input[name=id]"); }
  function ticked() { return form.querySelectorAll("input[name=id]:checked").length; }

  function refresh() {
    var n = ticked(), all = boxes().length;
    if (scope.value === "all") {
      text.textContent = text.getAttribute("data-all");
    } else if (n) {
      text.textContent = text.getAttribute("data-some").replace("%(n)s", n.toLocaleString());
    } else {
      text.textContent = text.getAttribute("data-none");
    }
    if (matching) { matching.hidden = !(all && n === all && scope.value !== "all"); }
    form.classList.toggle("has-selection", n > 0 || scope.value === "all");
    form.querySelectorAll("button[data-needs-selection]").forEach(function (b) {
      b.disabled = !(n > 0 || scope.value === "all");
    });
  }

  form.addEventListener("change", function (e) {
    if (e.target === pageBox) {
      boxes().forEach(function (box) { box.checked = pageBox.checked; });
    }
    if (e.target.name === "id" || e.target === pageBox) {
      if (!e.target.checked) { scope.value = "page"; }
      if (e.target.name === "id") { pageBox.checked = ticked() === boxes().length; }
      refresh();
    }
  });
  if (matching) {
    matching.addEventListener("click", function () { scope.value = "all"; refresh(); });
  }
  // Enter in the reason or memo box continues that action, not the form's first button (print).
  form.addEventListener("keydown", function (e) {
    var next = { reason: "status", new_memo: "memo" }[e.target.name];
    if (e.key === "Enter" && next) {
      e.preventDefault();
      form.querySelector("button[name=action][value=" + next + "]").click();
    }
  });
  refresh();

  // Live list: poll for orders that arrived since the page was drawn; show them on request, keeping ticks.
  var banner = document.getElementById("live-banner");
  if (!banner) { return; }
  var url = banner.getAttribute("data-live-url");
  var after = banner.getAttribute("data-after");
  var label = banner.querySelector("[data-live-text]");
  var timer = null;
  var PERIOD = 20000;

  function get(extra) {
    var sep = url.indexOf("?") >= 0 ? "&" : "?";
    return fetch(url + sep + "after=" + encodeURIComponent(after) + (extra || ""), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }
  function showCounts(tabs) {
    Object.keys(tabs).forEach(function (key) {
      var el = document.querySelector("[data-tab-count='" + key + "']");
      if (el) { el.textContent = tabs[key].text; }
    });
  }
  function poll() {
    timer = null;
    if (document.visibilityState !== "visible") { return; }
    get("").then(function (answer) {
      showCounts(answer.tabs);
      if (answer.new > 0) {
        label.textContent = answer.new === 1 ? banner.getAttribute("data-one")
          : banner.getAttribute("data-many").replace("%(n)s", answer.new.toLocaleString());
        banner.hidden = false;
      }
    }).catch(function () { /* the next poll tries again */ }).then(schedule);
  }
  function schedule() { if (!timer && document.visibilityState === "visible") { timer = setTimeout(poll, PERIOD); } }
  banner.querySelector("[data-live-show]").addEventListener("click", function () {
    get("&rows=1").then(function (answer) {
      var body = form.querySelector("[data-rows]");
      var empty = body.querySelector("tr.empty");
      if (empty) { empty.remove(); }
      body.insertAdjacentHTML("afterbegin", answer.rows);
      after = String(answer.last_id);
      banner.hidden = true;
      showCounts(answer.tabs);
      pageBox.checked = false;
      refresh();
    });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { poll(); }
    else if (timer) { clearTimeout(timer); timer = null; }
  });
  schedule();
})();
