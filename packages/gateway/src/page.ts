/** The page at `/`: run probes from a browser and watch latency and errors. Served by every host. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sockkit gateway</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form { display: grid; grid-template-columns: repeat(4, auto) 1fr; gap: .5rem; align-items: end; }
  label { display: grid; font-size: .85rem; }
  input, select, button { font: inherit; padding: .3rem .5rem; }
  table { width: 100%; border-collapse: collapse; margin-top: 1.5rem; }
  td, th { text-align: left; padding: .3rem; border-bottom: 1px solid #ddd; font-size: .9rem; }
  .ok { color: #176a2c; } .fail { color: #a8201a; }
</style>
</head>
<body>
<h1>sockkit gateway</h1>
<p>Probe a Redis server, an MQTT broker or any TCP port through this gateway. Destinations pass the gateway's policy first.</p>
<form id="probe">
  <label>Protocol <select name="kind"><option>redis</option><option>mqtt</option><option>tcp</option></select></label>
  <label>Host <input name="host" required value="127.0.0.1"></label>
  <label>Port <input name="port" type="number" min="1" max="65535" placeholder="default"></label>
  <label>Token <input name="token" type="password" placeholder="if required"></label>
  <button type="submit">Probe</button>
</form>
<table>
  <thead><tr><th>time</th><th>target</th><th>result</th><th>latency</th></tr></thead>
  <tbody id="history"></tbody>
</table>
<script>
  const form = document.getElementById("probe");
  const history = document.getElementById("history");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const params = new URLSearchParams({ host: data.get("host") });
    if (data.get("port")) params.set("port", data.get("port"));
    const headers = data.get("token") ? { authorization: "Bearer " + data.get("token") } : {};
    const row = history.insertRow(0);
    row.insertCell().textContent = new Date().toLocaleTimeString();
    row.insertCell().textContent = data.get("kind") + "://" + params.get("host") + (params.get("port") ? ":" + params.get("port") : "");
    const result = row.insertCell();
    const latency = row.insertCell();
    result.textContent = "…";
    try {
      const response = await fetch("/probe/" + data.get("kind") + "?" + params, { headers });
      const body = await response.json();
      result.className = body.ok ? "ok" : "fail";
      result.textContent = body.ok ? "ok " + JSON.stringify(body.detail) : response.status + " " + body.error.code + ": " + body.error.message;
      latency.textContent = body.ok ? body.latencyMs + " ms" : "";
    } catch (error) {
      result.className = "fail";
      result.textContent = String(error);
    }
  });
</script>
</body>
</html>
`;
