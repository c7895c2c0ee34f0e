// The status page's HTML, CSS and JS (see status_page.h). Everything it shows comes from
// /status.json and is written with textContent (never parsed as HTML). With a secured server the
// page asks for the operator secret once, keeps it in sessionStorage (this tab only, gone when the
// tab closes; never in a URL, so never in a log or the history) and sends it as
// "Authorization: Bearer ...".
#include "shuffle-server/ops/status_page.h"

namespace shuffle::ops {

std::string_view StatusPageHtml() {
  return R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shuffle-server status</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:17px;margin:0}
.muted{color:#7a8294}header .muted{color:#aab2c2}
main{padding:14px 18px;display:grid;gap:14px;grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}
section{background:#fff;border-radius:6px;padding:10px 14px;box-shadow:0 1px 2px #0002}
section.wide{grid-column:1/-1}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#4a5367}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}
.card{background:#f0f2f6;border-radius:4px;padding:6px 8px}
.card b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #e4e7ee;font-variant-numeric:tabular-nums}
th{color:#4a5367;font-weight:600}
.bar{background:#e4e7ee;height:8px;border-radius:4px;min-width:80px}
.bar div{background:#3b7ddd;height:8px;border-radius:4px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:10px}
svg{width:100%;height:90px;background:#f8f9fb;border-radius:4px}
svg polyline{fill:none;stroke:#3b7ddd;stroke-width:1.5}
.badge{padding:1px 8px;border-radius:9px;background:#2e9d5b;color:#fff;font-size:12px}
.badge.warn{background:#d9822b}
pre{margin:0;max-height:220px;overflow:auto;font-size:12px;white-space:pre-wrap}
#login{max-width:380px;margin:60px auto}
#login input{width:100%;box-sizing:border-box;margin:6px 0;padding:6px}
.error{color:#c0392b}
</style>
</head>
<body>
<header><h1>shuffle-server <span id="node"></span></h1>
<span class="muted" id="uptime"></span><span class="muted" id="epoch"></span>
<span class="badge" id="state">starting</span><span class="muted" id="updated"></span></header>
<section id="login" hidden>
<h2>Operator secret</h2>
<p>This server is secured: enter its operator secret (the server's --registration-secret-file).
It stays in this browser tab only.</p>
<form id="login-form"><input id="secret" type="password" autocomplete="off" required>
<button type="submit">Open</button></form>
<p class="error" id="login-error"></p>
</section>
<main id="main" hidden>
<section class="wide"><h2>Traffic</h2><div class="cards">
<div class="card">bytes in<b id="pushed-bytes">-</b></div>
<div class="card">blocks in<b id="pushed-blocks">-</b></div>
<div class="card">bytes out<b id="sent-bytes">-</b></div>
<div class="card">blocks out<b id="fetched-blocks">-</b></div>
<div class="card">commits<b id="commits">-</b></div>
<div class="card">fetches<b id="fetches">-</b></div>
<div class="card">connections<b id="connections">-</b></div>
<div class="card">request errors<b id="request-errors">-</b></div>
</div></section>
<section class="wide"><h2>Last minutes</h2><div class="charts">
<div>commits/s <b id="rate-commits"></b><svg id="chart-commits" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
<div>fetches/s <b id="rate-fetches"></b><svg id="chart-fetches" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
<div>bytes in/s <b id="rate-bytes_in"></b><svg id="chart-bytes_in" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
<div>bytes out/s <b id="rate-bytes_out"></b><svg id="chart-bytes_out" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
</div></section>
<section><h2>Disk</h2><table><thead><tr><th>directory</th><th>shuffle data</th><th>files</th>
<th>free</th><th>used</th></tr></thead><tbody id="dirs"></tbody></table></section>
<section><h2>Drain and hand-over</h2><table><tbody>
<tr><th>draining</th><td id="drain-state"></td></tr>
<tr><th>writes refused while draining</th><td id="drain-refused"></td></tr>
<tr><th>requests in flight</th><td id="drain-requests"></td></tr>
<tr><th>buffered block bytes</th><td id="drain-buffered"></td></tr>
<tr><th>response bytes not yet written</th><td id="drain-pending"></td></tr>
<tr><th>hand-over to peers</th><td id="handover-state"></td></tr>
<tr><th>map outputs moved</th><td id="handover-moved"></td></tr>
<tr><th>map outputs not moved (re-run)</th><td id="handover-unmoved"></td></tr>
<tr><th>bytes moved</th><td id="handover-bytes"></td></tr>
</tbody></table></section>
<section class="wide"><h2>Applications and shuffles</h2><table><thead><tr><th>application</th>
<th>namespace</th><th>shuffle</th><th>partitions</th><th>maps committed</th><th>sealed</th>
<th>stored</th><th>on disk</th></tr></thead><tbody id="apps"></tbody></table>
<p class="muted" id="apps-empty">no applications</p></section>
<section class="wide"><h2>Recent warnings and errors</h2><pre id="problems"></pre></section>
</main>
<script>
"use strict";
const KEY = "shuffle-status-secret";
const $ = (id) => document.getElementById(id);
let timer = null;

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function count(n) { return Number(n).toLocaleString("en-US"); }
function show(id, raw, text) { const e = $(id); e.dataset.value = String(raw); e.textContent = text; }
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m + "m " + (s % 60) + "s";
}
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.append(c); tr.append(td); }
  return tr;
}
function bar(fraction) {
  const outer = document.createElement("div"); outer.className = "bar";
  const inner = document.createElement("div");
  inner.style.width = (Math.min(Math.max(fraction, 0), 1) * 100).toFixed(1) + "%";
  outer.append(inner);
  return outer;
}
function chart(name, points, interval) {
  const svg = $("chart-" + name);
  const values = points.map((p) => p[name]);
  const max = Math.max(1e-9, ...values);
  const span = Math.max(points.length - 1, 1);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", values.map((v, i) =>
      (i * 300 / span).toFixed(1) + "," + (88 - v / max * 84).toFixed(1)).join(" "));
  const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = "peak " + max.toFixed(1) + "/s over " + duration(Math.round(span * interval));
  svg.replaceChildren(title, line);
  const last = values.length > 0 ? values[values.length - 1] : 0;
  show("rate-" + name, last, name.startsWith("bytes") ? bytes(last) : last.toFixed(1));
}
function render(s) {
  $("node").textContent = s.node;
  $("uptime").textContent = "up " + duration(s.uptime_seconds);
  $("epoch").textContent = "epoch " + s.epoch;
  $("updated").textContent = "updated " + new Date(s.unix_ms).toLocaleTimeString();
  $("state").textContent = s.drain.draining ? "draining" : "serving";
  $("state").className = s.drain.draining ? "badge warn" : "badge";
  const t = s.totals;
  show("pushed-bytes", t.pushed_bytes, bytes(t.pushed_bytes));
  show("pushed-blocks", t.pushed_blocks, count(t.pushed_blocks));
  show("sent-bytes", t.sent_bytes, bytes(t.sent_bytes));
  show("fetched-blocks", t.fetched_blocks || 0, count(t.fetched_blocks || 0));
  show("commits", t.commits, count(t.commits));
  show("fetches", t.fetches, count(t.fetches));
  show("connections", t.connections_open || 0, count(t.connections_open || 0));
  show("request-errors", t.request_errors, count(t.request_errors));
  if (s.rates) {
    for (const name of ["commits", "fetches", "bytes_in", "bytes_out"]) {
      chart(name, s.rates.points, s.rates.interval_seconds);
    }
  }
  $("dirs").replaceChildren(...s.directories.map((d) => {
    const used = d.capacity_bytes ? 1 - d.free_bytes / d.capacity_bytes : 0;
    return row([d.path, bytes(d.used_bytes), count(d.files),
                d.capacity_bytes ? bytes(d.free_bytes) : (d.error || "?"), bar(used)]);
  }));
  const d = s.drain;
  show("drain-state", d.draining ? 1 : 0, d.draining ? "yes: new writes refused, reads served" : "no");
  show("drain-refused", d.refused_writes, count(d.refused_writes));
  show("drain-requests", d.requests_in_flight, count(d.requests_in_flight));
  show("drain-buffered", d.memory_buffered_bytes, bytes(d.memory_buffered_bytes));
  show("drain-pending", d.pending_write_bytes, bytes(d.pending_write_bytes));
  const h = d.handover || {state: "none", maps: 0, moved: 0, unmoved: 0, bytes_moved: 0};
  const handed = h.moved + h.unmoved;
  show("handover-state", h.state, h.state === "none" ? "none"
      : h.state === "running" ? "running: " + count(handed) + " of " + count(h.maps) + " map outputs"
      : "finished in " + ((h.finished_unix_ms - h.started_unix_ms) / 1000).toFixed(1) + " s");
  const progress = document.createElement("span");
  progress.textContent = count(h.moved) + " of " + count(h.maps) + " ";
  $("handover-moved").replaceChildren(progress, bar(h.maps > 0 ? h.moved / h.maps : 0));
  $("handover-moved").dataset.value = String(h.moved);
  show("handover-unmoved", h.unmoved, count(h.unmoved));
  show("handover-bytes", h.bytes_moved, bytes(h.bytes_moved));
  const rows = [];
  for (const a of s.applications) {
    for (const sh of a.shuffles) {
      rows.push(row([a.app, a.namespace, String(sh.shuffle), count(sh.partitions),
                     count(sh.committed_maps), sh.sealed ? "yes" : "no", bytes(sh.stored_bytes),
                     bytes(sh.disk_bytes)]));
    }
  }
  $("apps").replaceChildren(...rows);
  $("apps-empty").hidden = rows.length > 0;
  $("problems").textContent = s.recent_problems.length > 0 ? s.recent_problems.join("") : "none";
}
function loggedOut(message) {
  clearTimeout(timer);
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
}
async function poll() {
  const headers = {};
  const secret = sessionStorage.getItem(KEY);
  if (secret) headers["Authorization"] = "Bearer " + secret;
  try {
    const response = await fetch("status.json", {headers, cache: "no-store"});
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY);
      loggedOut(secret ? (await response.text()) : "");
      return;
    }
    if (!response.ok) throw new Error("status.json: HTTP " + response.status);
    render(await response.json());
    $("login").hidden = true;
    $("main").hidden = false;
  } catch (e) {
    $("state").textContent = "unreachable";
    $("state").className = "badge warn";
    $("updated").textContent = String(e.message || e);
  }
  timer = setTimeout(poll, 2000);
}
$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("secret").value);
  $("secret").value = "";
  poll();
});
poll();
</script>
</body>
</html>
)html";
}

}  // namespace shuffle::ops
