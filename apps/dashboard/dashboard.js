// The sozai lab dashboard. Everything a campaign holds may come from a
// hostile controller (names, notes, parameter values): the page builds its
// DOM with textContent only, never innerHTML, and the service's
// Content-Security-Policy allows no inline script. The token lives in
// sessionStorage (this tab only) and leaves the address bar at once.
"use strict";
(function () {
  const $ = id => document.getElementById(id);
  const params = new URLSearchParams(location.hash.slice(1));
  let token = params.get("token") || sessionStorage.getItem("sozai-token") || "";
  let wanted = params.get("campaign");
  if (location.hash) history.replaceState(null, "", location.pathname);
  let current = null, timer = null, info = null, results = [], lastSeq = 0, plots = {};

  async function api(path) {
    const r = await fetch(path, {headers: {Authorization: "Bearer " + token}, cache: "no-store"});
    let body = null;
    try { body = await r.json(); } catch (e) { body = {}; }
    if (!r.ok) throw new Error((body && body.error) || String(r.status));
    return body;
  }
  /// An element with text children only.
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function fmt(v) {
    if (typeof v !== "number") return JSON.stringify(v);
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toFixed(4));
  }
  function pairs(obj) { return Object.entries(obj || {}).map(([k, v]) => k + " = " + fmt(v)).join(", "); }
  function replace(node, children) { node.replaceChildren(...children); }

  function plot(key, box, opts, data) {
    if (plots[key]) plots[key].destroy();
    box.replaceChildren();
    plots[key] = new uPlot(Object.assign({width: 520, height: 300}, opts), data, box);
  }
  function drawProgress(done, obj) {
    const sign = obj.direction === "minimize" ? -1 : 1, xs = [], ys = [], best = [];
    let b = null;
    done.forEach((e, i) => {
      const v = e.values[obj.name];
      if (b === null || sign * v > sign * b) b = v;
      xs.push(i + 1); ys.push(v); best.push(b);
    });
    plot("progress", $("progress"), {
      scales: {x: {time: false}},
      axes: [{label: "experiments"}, {label: obj.name + " (" + obj.direction + ")"}],
      series: [{label: "experiment"},
               {label: "measured", stroke: "#99c", paths: () => null, points: {show: true, size: 5, fill: "#99c"}},
               {label: "best so far", stroke: "#c30", width: 2, points: {show: false}}],
    }, [xs, ys, best]);
  }
  function drawFront(done, objs, front) {
    const obj = objs.filter(o => o.direction === "maximize" || o.direction === "minimize");
    $("frontbox").hidden = obj.length < 2;
    if (obj.length < 2 || !done.length) return;
    const a = obj[0].name, b = obj[1].name;
    const key = v => v[a] + "|" + v[b];
    const onFront = new Set((Array.isArray(front) ? front : []).map(p => key(p.values)));
    const rows = done.map(e => [e.values[a], e.values[b], onFront.has(key(e.values))]).sort((p, q) => p[0] - q[0]);
    plot("front", $("front"), {
      width: 380,
      scales: {x: {time: false}},
      axes: [{label: a}, {label: b}],
      series: [{label: a},
               {label: "result", stroke: "#bbb", paths: () => null, points: {show: true, size: 5, fill: "#bbb"}},
               {label: "Pareto front", stroke: "#c30", paths: () => null, points: {show: true, size: 7, fill: "#c30"}}],
    }, [rows.map(r => r[0]), rows.map(r => r[2] ? null : r[1]), rows.map(r => r[2] ? r[1] : null)]);
  }

  async function refresh() {
    if (!current) return;
    try {
      const c = await api("/v1/campaigns/" + encodeURIComponent(current));
      // Only the results that arrived since the last refresh.
      for (;;) {
        const page = await api("/v1/campaigns/" + encodeURIComponent(current) + "/results?after=" + lastSeq);
        results.push(...page.results);
        lastSeq = page.last;
        if (page.next_after === null || page.next_after === undefined) break;
      }
      replace($("counts"), Object.entries(c.counts).map(([k, v]) => {
        const s = el("span", k + ": ", {"data-state": k});
        s.appendChild(el("b", v));
        return s;
      }));
      const objs = c.settings.objectives;
      const best = $("best");
      if (c.best && !Array.isArray(c.best)) {
        replace(best, [el("h2", "Best"), el("span", pairs(c.best.values), {id: "bestvalue"}),
                       el("span", " at " + pairs(c.best.parameters))]);
      } else if (c.best) {
        replace(best, [el("h2", "Pareto front"), el("span", c.best.length + " non-dominated results", {id: "bestvalue"})]);
      } else {
        replace(best, [el("h2", "Best"), el("span", "no results yet", {id: "bestvalue"})]);
      }
      const done = results.filter(e => e.state === "completed");
      if (done.length) drawProgress(done, objs[0]);
      drawFront(done, objs, c.best);
      const names = objs.map(o => o.name);
      const head = el("tr");
      for (const t of ["id", "controller", "completed"].concat(names, ["parameters"])) head.appendChild(el("th", t));
      replace($("latest").tHead, [head]);
      replace($("latest").tBodies[0], done.slice(-10).reverse().map(e => {
        const tr = el("tr");
        for (const t of [e.id, e.controller, e.completed_at].concat(names.map(n => fmt(e.values[n])),
                                                                    [pairs(e.parameters)]))
          tr.appendChild(el("td", t));
        return tr;
      }));
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) { $("updated").textContent = "error: " + err.message; }
  }
  function select(id) {
    current = id; results = []; lastSeq = 0;
    return refresh();
  }
  async function start() {
    try {
      const list = await api("/v1/campaigns?limit=1000");
      sessionStorage.setItem("sozai-token", token);
      $("login").hidden = true; $("main").hidden = false;
      replace($("campaign"), list.campaigns.map(c => el("option", c.name + " (" + c.id + ")", {value: c.id})));
      const first = wanted || (list.campaigns[0] || {}).id || null;
      if (first) $("campaign").value = first;
      await select(first);
      clearInterval(timer); timer = setInterval(refresh, 2000);
    } catch (err) {
      sessionStorage.removeItem("sozai-token");
      $("loginerr").textContent = err.message;
    }
  }
  $("campaign").addEventListener("change", () => select($("campaign").value));
  $("go").addEventListener("click", () => { token = $("token").value.trim(); start(); });
  if (token) start();
})();
