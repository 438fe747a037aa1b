// Lethe console: live refresh of pages while something runs, and the
// graph's click-through. Every page works without this script.
"use strict";
(function () {
  var main = document.getElementById("main");
  if (!main) return;

  // Live refresh: a page marked data-live is fetched again every few
  // seconds and its main part replaced, unless the page is hidden, the
  // reader is in a form, or a form holds something they changed (an
  // attestation's note must not vanish under them).
  var every = parseInt(main.getAttribute("data-live") || "0", 10);
  function changed(e) {
    if (e.type === "hidden") return false;
    if (e.type === "checkbox" || e.type === "radio") return e.checked !== e.defaultChecked;
    if (e.tagName === "SELECT") {
      var initial = 0; // a select without a selected option starts on its first
      Array.prototype.forEach.call(e.options, function (o, i) { if (o.defaultSelected) initial = i; });
      return e.selectedIndex !== initial;
    }
    return e.value !== e.defaultValue;
  }
  function busy() {
    var a = document.activeElement;
    if (document.hidden || (a && a.closest && a.closest("form"))) return true;
    return Array.prototype.some.call(main.querySelectorAll("input, textarea, select"), changed);
  }
  function refresh() {
    if (busy()) return;
    fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (!fresh) return;
        var open = Array.prototype.map.call(main.querySelectorAll("details[open] > summary"), function (s) { return s.textContent; });
        main.innerHTML = fresh.innerHTML;
        Array.prototype.forEach.call(main.querySelectorAll("details > summary"), function (s) {
          if (open.indexOf(s.textContent) >= 0) s.parentNode.open = true;
        });
        var clock = doc.querySelector(".clock");
        if (clock && document.querySelector(".clock")) document.querySelector(".clock").innerHTML = clock.innerHTML;
        bindGraph();
        if (!fresh.hasAttribute("data-live")) { main.removeAttribute("data-live"); clearInterval(timer); }
      })
      .catch(function () {});
  }
  var timer = every > 0 ? setInterval(refresh, every) : 0;

  // The graph: a click (or Enter / Space) on a state shows its input,
  // output and events beside the graph, and puts it in the address so
  // that a refresh keeps it.
  function show(name) {
    var u = new URL(location.href);
    u.searchParams.set("state", name);
    history.replaceState(null, "", u.toString());
    u.searchParams.set("fragment", "state");
    fetch(u.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var panel = document.getElementById("state");
        if (html !== null && panel) panel.innerHTML = html;
        Array.prototype.forEach.call(document.querySelectorAll("[data-graph] .state"), function (g) {
          g.setAttribute("aria-pressed", g.getAttribute("data-state") === name ? "true" : "false");
        });
      });
  }
  function bindGraph() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-graph] .state"), function (g) {
      g.addEventListener("click", function () { show(g.getAttribute("data-state")); });
      g.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(g.getAttribute("data-state")); }
      });
    });
  }
  bindGraph();
})();
