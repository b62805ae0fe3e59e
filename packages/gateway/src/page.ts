/**
 * The page at `/`: a console on the gateway. It lists the destinations the operator allowed (GET
 * /destinations) with a probe button and a latency sparkline each, runs Redis commands (POST /redis)
 * and shows replies as data, and publishes and subscribes over MQTT (POST /mqtt/publish, GET
 * /mqtt/subscribe read as a stream). Everything a server sends is put in the page as text, never as
 * HTML. Served by every host; the script is inline so that the page needs nothing else.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sockkit gateway</title>
<style>
  :root { --ok: #176a2c; --fail: #a8201a; --muted: #666; --line: #ddd; }
  body { font: 14px/1.45 system-ui, sans-serif; max-width: 64rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
  header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; justify-content: space-between; }
  h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  section { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin-top: 1rem; }
  label { font-size: .8rem; color: var(--muted); display: inline-grid; }
  input, select, button { font: inherit; padding: .25rem .45rem; }
  button { cursor: pointer; }
  table { width: 100%; border-collapse: collapse; }
  td, th { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: .8rem; color: var(--muted); font-weight: 600; }
  .ok { color: var(--ok); } .fail { color: var(--fail); } .muted { color: var(--muted); }
  .row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .4rem 0; }
  .grow { flex: 1; min-width: 12rem; } .grow input { width: 100%; box-sizing: border-box; }
  code, .reply, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
  .entry { border-top: 1px solid var(--line); padding: .4rem 0; }
  .reply ol { margin: .1rem 0; padding-left: 1.6rem; } .reply table { width: auto; }
  .reply td { border: 1px solid var(--line); padding: .1rem .4rem; }
  .str { color: #0b4f8a; } .int { color: #6a3d9a; } .nil, .bin { color: var(--muted); } .err { color: var(--fail); }
  svg.spark { width: 120px; height: 24px; } svg.spark polyline { fill: none; stroke: #0b4f8a; stroke-width: 1.5; }
  #mqtt-messages { max-height: 16rem; overflow: auto; padding-left: 1.6rem; margin: .4rem 0 0; }
  .columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  @media (max-width: 720px) { .columns { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>sockkit gateway</h1>
  <form id="auth" class="row">
    <label>Token <input name="token" type="password" autocomplete="off" placeholder="if the gateway needs one"></label>
    <button type="submit">Use</button>
    <span id="auth-status" class="muted"></span>
  </form>
</header>

<section id="destinations">
  <div class="row" style="justify-content: space-between">
    <h2>Destinations</h2>
    <button id="probe-all" type="button">Probe all</button>
  </div>
  <table>
    <thead><tr><th>name</th><th>protocol</th><th>address</th><th>result</th><th>latency</th><th>trend</th><th></th></tr></thead>
    <tbody id="dest-rows"><tr><td colspan="7" class="muted">loading…</td></tr></tbody>
  </table>
  <details>
    <summary class="muted">Probe another destination</summary>
    <form id="probe" class="row">
      <label>Protocol <select name="kind"><option>redis</option><option>mqtt</option><option>tcp</option></select></label>
      <label>Host <input name="host" required value="127.0.0.1"></label>
      <label>Port <input name="port" type="number" min="1" max="65535" placeholder="default"></label>
      <button type="submit">Probe</button>
    </form>
    <table><tbody id="history"></tbody></table>
  </details>
</section>

<div class="columns">
<section id="redis">
  <h2>Redis console</h2>
  <form id="redis-form" class="row">
    <label>Destination <select id="redis-dest" name="dest"></select></label>
    <label class="grow">Command <input id="redis-command" name="command" placeholder='SET greeting "hello world"' autocomplete="off"></label>
    <button type="submit">Run</button>
  </form>
  <div id="redis-output"></div>
</section>

<section id="mqtt">
  <h2>MQTT</h2>
  <div class="row"><label>Broker <select id="mqtt-dest"></select></label></div>
  <form id="publish-form" class="row">
    <label>Topic <input name="topic" required value="demo/hello"></label>
    <label class="grow">Payload <input name="payload" value="hello"></label>
    <label>QoS <select name="qos"><option>0</option><option selected>1</option><option>2</option></select></label>
    <label>Retain <input name="retain" type="checkbox"></label>
    <button type="submit">Publish</button>
  </form>
  <div id="publish-status" class="muted"></div>
  <form id="subscribe-form" class="row">
    <label class="grow">Filter <input name="filter" required value="demo/#"></label>
    <button type="submit" id="subscribe-button">Subscribe</button>
  </form>
  <div id="subscribe-status" class="muted">not subscribed</div>
  <ol id="mqtt-messages" class="mono"></ol>
</section>
</div>

<script>
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, props, ...children) => {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const child of children) node.append(child);
  return node;
};
let token = sessionStorage.getItem("sockkit-token") || "";
const headers = (extra) => Object.assign(token ? { authorization: "Bearer " + token } : {}, extra || {});
const describeError = (status, body) =>
  status + " " + (body && body.error ? body.error.code + ": " + body.error.message : "failed");

async function api(path, init) {
  const response = await fetch(path, Object.assign({}, init, { headers: headers(init && init.headers) }));
  let body = null;
  try { body = await response.json(); } catch (_) {}
  if (response.status === 401) $("auth-status").textContent = "this gateway needs a token";
  return { status: response.status, ok: response.ok, body };
}

// ---- destinations, probes, sparklines
const history = new Map();
function sparkline(points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  svg.dataset.points = String(points.length);
  const values = points.filter((p) => p !== null);
  const max = Math.max(1, ...values);
  const step = points.length > 1 ? 116 / (points.length - 1) : 0;
  const coords = [];
  points.forEach((p, i) => {
    const x = 2 + i * step;
    if (p === null) {
      const mark = document.createElementNS(ns, "circle");
      mark.setAttribute("cx", x); mark.setAttribute("cy", 20); mark.setAttribute("r", 2); mark.setAttribute("fill", "#a8201a");
      svg.append(mark);
    } else coords.push(x.toFixed(1) + "," + (22 - (p / max) * 20).toFixed(1));
  });
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", coords.join(" "));
  svg.prepend(line);
  // The latest latency as a dot, so that a single probe shows too.
  if (coords.length > 0 && points[points.length - 1] !== null) {
    const [x, y] = coords[coords.length - 1].split(",");
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 2); dot.setAttribute("fill", "#0b4f8a");
    svg.append(dot);
  }
  const title = document.createElementNS(ns, "title");
  title.textContent = values.length ? "last " + points.length + " probes, max " + max + " ms" : "no successful probe yet";
  svg.append(title);
  return svg;
}

async function probe(kind, host, port) {
  const params = new URLSearchParams({ host });
  if (port) params.set("port", port);
  const { status, ok, body } = await api("/probe/" + kind + "?" + params);
  return ok ? { ok: true, latencyMs: body.latencyMs, text: "ok " + JSON.stringify(body.detail) } : { ok: false, text: describeError(status, body) };
}

function address(d) { return (d.host.includes(":") ? "[" + d.host + "]" : d.host) + ":" + d.port; }

async function probeRow(d, row) {
  const result = row.querySelector(".result"), latency = row.querySelector(".latency"), trend = row.querySelector(".trend");
  result.textContent = "…"; result.className = "result";
  const outcome = await probe(d.protocol, d.host, String(d.port));
  result.textContent = outcome.text;
  result.className = "result " + (outcome.ok ? "ok" : "fail");
  latency.textContent = outcome.ok ? outcome.latencyMs + " ms" : "";
  const points = history.get(address(d)) || [];
  points.push(outcome.ok ? outcome.latencyMs : null);
  if (points.length > 30) points.shift();
  history.set(address(d), points);
  trend.replaceChildren(sparkline(points));
}

let destinations = [];
async function loadDestinations() {
  const rows = $("dest-rows");
  const { status, ok, body } = await api("/destinations");
  if (!ok) {
    rows.replaceChildren(el("tr", {}, el("td", { colSpan: 7, className: "fail", textContent: describeError(status, body) })));
    return;
  }
  $("auth-status").textContent = token ? "token accepted" : "";
  destinations = body.destinations;
  rows.replaceChildren();
  if (destinations.length === 0)
    rows.append(el("tr", {}, el("td", { colSpan: 7, className: "muted", textContent: "The operator allowed no destination (public ones on ports " + body.publicPorts.join(", ") + " may still be probed below)." })));
  for (const d of destinations) {
    const row = el("tr", { className: "dest" },
      el("td", { textContent: d.name || "" }), el("td", { textContent: d.protocol }), el("td", { className: "mono", textContent: address(d) }),
      el("td", { className: "result muted", textContent: d.probe ? "not probed" : "a range: probe a host below" }),
      el("td", { className: "latency" }), el("td", { className: "trend" }), el("td"));
    if (d.probe) {
      const button = el("button", { type: "button", className: "probe", textContent: "Probe" });
      button.addEventListener("click", () => probeRow(d, row));
      row.lastChild.append(button);
    }
    rows.append(row);
  }
  fillSelect($("redis-dest"), destinations.filter((d) => d.probe && d.protocol === "redis"));
  fillSelect($("mqtt-dest"), destinations.filter((d) => d.probe && d.protocol === "mqtt"));
}

function fillSelect(select, list) {
  select.replaceChildren(...list.map((d) => el("option", { value: JSON.stringify({ host: d.host, port: d.port }), textContent: (d.name ? d.name + " · " : "") + address(d) })));
  if (list.length === 0) select.append(el("option", { value: "", textContent: "none allowed" }));
}
const chosen = (select) => (select.value ? JSON.parse(select.value) : null);

$("probe-all").addEventListener("click", () => {
  for (const row of document.querySelectorAll("#dest-rows tr.dest")) row.querySelector("button.probe")?.click();
});

$("probe").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  const row = $("history").insertRow(0);
  row.insertCell().textContent = new Date().toLocaleTimeString();
  row.insertCell().textContent = data.get("kind") + "://" + data.get("host") + (data.get("port") ? ":" + data.get("port") : "");
  const result = row.insertCell(), latency = row.insertCell();
  result.textContent = "…";
  const outcome = await probe(data.get("kind"), data.get("host"), data.get("port"));
  result.className = outcome.ok ? "ok" : "fail";
  result.textContent = outcome.text;
  latency.textContent = outcome.ok ? outcome.latencyMs + " ms" : "";
});

// ---- Redis console
function words(line) {
  const out = [];
  const pattern = /"((?:[^"\\\\]|\\\\.)*)"|'([^']*)'|(\\S+)/g;
  let match;
  while ((match = pattern.exec(line))) out.push(match[1] !== undefined ? match[1].replace(/\\\\(.)/g, "$1") : match[2] !== undefined ? match[2] : match[3]);
  return out;
}

function render(value) {
  if (value === null) return el("span", { className: "nil", textContent: "(nil)" });
  if (typeof value === "string") return el("span", { className: "str", textContent: JSON.stringify(value) });
  if (typeof value === "number") return el("span", { className: "int", textContent: "(integer) " + value });
  if (typeof value === "boolean") return el("span", { className: "int", textContent: "(boolean) " + value });
  if (Array.isArray(value)) {
    if (value.length === 0) return el("span", { className: "nil", textContent: "(empty array)" });
    return el("ol", { className: "arr" }, ...value.map((item) => el("li", {}, render(item))));
  }
  if (typeof value === "object" && "base64" in value && Object.keys(value).length === 1)
    return el("span", { className: "bin", textContent: "(bytes, base64) " + value.base64 });
  if (typeof value === "object" && "error" in value && Object.keys(value).length === 1)
    return el("span", { className: "err", textContent: "(error) " + value.error });
  const table = el("table", { className: "map" });
  for (const [key, item] of Object.entries(value)) table.append(el("tr", {}, el("td", { className: "str", textContent: key }), el("td", {}, render(item))));
  return table;
}

$("redis-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const target = chosen($("redis-dest"));
  const line = $("redis-command").value.trim();
  const command = words(line);
  if (!target || command.length === 0) return;
  const entry = el("div", { className: "entry" }, el("div", { className: "mono muted", textContent: "> " + line }));
  const reply = el("div", { className: "reply", textContent: "…" });
  entry.append(reply);
  $("redis-output").prepend(entry);
  const { status, ok, body } = await api("/redis", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ host: target.host, port: target.port, command }),
  });
  if (ok) reply.replaceChildren(render(body.reply), el("span", { className: "muted", textContent: "  " + body.latencyMs + " ms" }));
  else {
    reply.replaceChildren(el("span", { className: "err", textContent: describeError(status, body) }));
  }
});

// ---- MQTT: publish, and subscribe through the SSE route, read as a stream (a fetch can send the token)
$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const target = chosen($("mqtt-dest"));
  if (!target) return;
  const data = new FormData(event.target);
  $("publish-status").textContent = "publishing…";
  const { status, ok, body } = await api("/mqtt/publish", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ host: target.host, port: target.port, topic: data.get("topic"), payload: data.get("payload"), qos: Number(data.get("qos")), retain: data.get("retain") === "on" }),
  });
  $("publish-status").className = ok ? "ok" : "fail";
  $("publish-status").textContent = ok ? "published to " + data.get("topic") + " (QoS " + body.qos + ") in " + body.latencyMs + " ms" : describeError(status, body);
});

let subscription = null;
function stopSubscription() {
  if (subscription) subscription.abort();
  subscription = null;
  $("subscribe-button").textContent = "Subscribe";
}

$("subscribe-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (subscription) return stopSubscription();
  const target = chosen($("mqtt-dest"));
  if (!target) return;
  const filter = new FormData(event.target).get("filter");
  const controller = new AbortController();
  subscription = controller;
  $("subscribe-button").textContent = "Stop";
  const status = $("subscribe-status");
  status.className = "muted";
  status.textContent = "subscribing to " + filter + "…";
  const params = new URLSearchParams({ host: target.host, port: String(target.port), filter, qos: "1" });
  try {
    const response = await fetch("/mqtt/subscribe?" + params, { headers: headers(), signal: controller.signal });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (_) {}
      status.className = "fail";
      status.textContent = describeError(response.status, body);
      return stopSubscription();
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\\n\\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = {};
        for (const line of block.split("\\n")) fields[line.slice(0, line.indexOf(":"))] = line.slice(line.indexOf(":") + 2);
        const data = JSON.parse(fields.data);
        if (fields.event === "subscribed") {
          status.className = "ok";
          status.textContent = "subscribed to " + data.filter + " (QoS " + data.qos + "; at most " + data.maxMessages + " messages or " + data.maxSeconds + " s)";
        } else if (fields.event === "message") {
          const text = data.payload !== undefined ? data.payload : "(base64) " + data.payloadBase64;
          $("mqtt-messages").prepend(el("li", { className: "message" }, el("span", { className: "muted", textContent: new Date().toLocaleTimeString() + " " }), el("strong", { textContent: data.topic }), " " + text));
        } else if (fields.event === "end") {
          status.className = data.error ? "fail" : "muted";
          status.textContent = "subscription ended: " + data.reason + " after " + data.messages + " messages" + (data.error ? " (" + data.error.code + ")" : "");
        }
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") { status.className = "fail"; status.textContent = String(error); }
    else status.textContent = "stopped";
  }
  if (subscription === controller) stopSubscription();
});

$("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  token = new FormData(event.target).get("token");
  sessionStorage.setItem("sockkit-token", token);
  loadDestinations();
});
$("auth").elements.token.value = token;
loadDestinations();
</script>
</body>
</html>
`;
