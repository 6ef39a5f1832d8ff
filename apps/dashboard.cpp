#include "apps/dashboard.h"

namespace sozai {
namespace cli {

const char* dashboard_html() {
  return R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sozai lab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
 h1{font-size:1.3em;margin:0 0 .5em} h2{font-size:1.05em;margin:1.2em 0 .4em}
 #login,#main{max-width:1100px} input,select,button{font:inherit;padding:.25em .5em}
 .counts span{display:inline-block;margin:0 1em .3em 0;padding:.2em .6em;border-radius:4px;background:#eef}
 table{border-collapse:collapse} td,th{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left}
 canvas{border:1px solid #ccc;background:#fff} .err{color:#b00} .row{display:flex;gap:2em;flex-wrap:wrap}
</style></head><body>
<h1>sozai lab</h1>
<div id="login"><label>Token <input id="token" type="password" size="48"></label>
 <button id="go">Show</button> <span id="loginerr" class="err"></span></div>
<div id="main" hidden>
 <label>Campaign <select id="campaign"></select></label> <span id="updated"></span>
 <h2>Queue</h2><div id="counts" class="counts"></div>
 <div id="best"></div>
 <div class="row"><div><h2>Best so far against experiments</h2><canvas id="progress" width="520" height="300"></canvas></div>
 <div id="frontbox" hidden><h2>Pareto front</h2><canvas id="front" width="380" height="300"></canvas></div></div>
 <h2>Latest results</h2><table id="latest"><thead></thead><tbody></tbody></table>
</div>
<script>
"use strict";
const $ = id => document.getElementById(id);
let token = new URLSearchParams(location.hash.slice(1)).get("token") || localStorage.getItem("sozai-token") || "";
let current = null, timer = null;
async function api(path) {
  const r = await fetch(path, {headers: {Authorization: "Bearer " + token}});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.status);
  return body;
}
function fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : +v.toFixed(4)) : JSON.stringify(v); }
function axes(ctx, w, h, xs, ys, xl, yl) {
  const pad = 45, x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = v => pad + (w - 2 * pad) * (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5);
  const sy = v => h - pad - (h - 2 * pad) * (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5);
  ctx.clearRect(0, 0, w, h); ctx.strokeStyle = "#888"; ctx.fillStyle = "#444"; ctx.beginPath();
  ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, h - pad); ctx.lineTo(w - pad / 2, h - pad); ctx.stroke();
  ctx.fillText(fmt(y1), 2, sy(y1) + 4); ctx.fillText(fmt(y0), 2, sy(y0)); ctx.fillText(fmt(x0), sx(x0), h - pad + 14);
  ctx.fillText(fmt(x1), sx(x1) - 20, h - pad + 14); ctx.fillText(xl, w / 2 - 30, h - 8); ctx.fillText(yl, pad + 4, 12);
  return [sx, sy];
}
function drawProgress(done, obj) {
  const c = $("progress"), ctx = c.getContext("2d");
  if (!done.length) { ctx.clearRect(0, 0, c.width, c.height); return; }
  const sign = obj.direction === "minimize" ? -1 : 1, ys = [], pts = [];
  let best = null;
  done.forEach((e, i) => { const v = e.values[obj.name]; if (best === null || sign * v > sign * best) best = v; ys.push(best); pts.push(v); });
  const xs = ys.map((_, i) => i + 1);
  const [sx, sy] = axes(ctx, c.width, c.height, xs, ys.concat(pts), "experiments", obj.name + " (" + obj.direction + ")");
  ctx.fillStyle = "#99c"; pts.forEach((v, i) => ctx.fillRect(sx(i + 1) - 2, sy(v) - 2, 4, 4));
  ctx.strokeStyle = "#c30"; ctx.lineWidth = 2; ctx.beginPath();
  ys.forEach((v, i) => i ? ctx.lineTo(sx(i + 1), sy(v)) : ctx.moveTo(sx(1), sy(v))); ctx.stroke(); ctx.lineWidth = 1;
}
function drawFront(done, objs, best) {
  const obj = objs.filter(o => o.direction === "maximize" || o.direction === "minimize");
  $("frontbox").hidden = obj.length < 2;
  if (obj.length < 2 || !done.length) return;
  const c = $("front"), ctx = c.getContext("2d"), a = obj[0].name, b = obj[1].name;
  const xs = done.map(e => e.values[a]), ys = done.map(e => e.values[b]);
  const [sx, sy] = axes(ctx, c.width, c.height, xs, ys, a, b);
  ctx.fillStyle = "#bbb"; done.forEach(e => ctx.fillRect(sx(e.values[a]) - 2, sy(e.values[b]) - 2, 4, 4));
  ctx.fillStyle = "#c30"; (Array.isArray(best) ? best : []).forEach(p => {
    ctx.beginPath(); ctx.arc(sx(p.values[a]), sy(p.values[b]), 4, 0, 7); ctx.fill(); });
}
async function refresh() {
  if (!current) return;
  try {
    const [c, ex] = await Promise.all([api("/v1/campaigns/" + current), api("/v1/campaigns/" + current + "/export")]);
    $("counts").innerHTML = Object.entries(c.counts).map(([k, v]) => `<span data-state="${k}">${k}: <b>${v}</b></span>`).join("");
    const objs = c.settings.objectives;
    const single = c.best && !Array.isArray(c.best);
    $("best").innerHTML = single ? `<h2>Best</h2><span id="bestvalue">${Object.entries(c.best.values).map(([k, v]) => k + " = " + fmt(v)).join(", ")}</span> at ${Object.entries(c.best.parameters).map(([k, v]) => k + " = " + fmt(v)).join(", ")}`
      : (c.best ? `<h2>Pareto front</h2><span id="bestvalue">${c.best.length} non-dominated results</span>` : "<h2>Best</h2><span id='bestvalue'>no results yet</span>");
    const done = ex.experiments.filter(e => e.status === "completed").sort((x, y) => (x.completed_at < y.completed_at ? -1 : 1));
    drawProgress(done, objs[0]); drawFront(done, objs, c.best);
    const latest = done.slice(-10).reverse(), names = objs.map(o => o.name);
    $("latest").tHead.innerHTML = "<tr><th>id</th><th>controller</th><th>completed</th>" + names.map(n => `<th>${n}</th>`).join("") + "<th>parameters</th></tr>";
    $("latest").tBodies[0].innerHTML = latest.map(e => `<tr><td>${e.id}</td><td>${e.controller}</td><td>${e.completed_at}</td>` +
      names.map(n => `<td>${fmt(e.values[n])}</td>`).join("") + `<td>${Object.entries(e.parameters).map(([k, v]) => k + "=" + fmt(v)).join(" ")}</td></tr>`).join("");
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) { $("updated").textContent = "error: " + err.message; }
}
async function start() {
  try {
    const list = await api("/v1/campaigns");
    localStorage.setItem("sozai-token", token);
    $("login").hidden = true; $("main").hidden = false;
    $("campaign").innerHTML = list.campaigns.map(c => `<option value="${c.id}">${c.name} (${c.id})</option>`).join("");
    const want = new URLSearchParams(location.hash.slice(1)).get("campaign");
    current = want || (list.campaigns[0] || {}).id || null;
    if (current) $("campaign").value = current;
    await refresh();
    clearInterval(timer); timer = setInterval(refresh, 2000);
  } catch (err) { $("loginerr").textContent = err.message; }
}
$("campaign").onchange = () => { current = $("campaign").value; refresh(); };
$("go").onclick = () => { token = $("token").value.trim(); start(); };
if (token) start();
</script></body></html>
)HTML";
}

}  // namespace cli
}  // namespace sozai
