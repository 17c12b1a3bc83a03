// The status page: reads /api/v1/activity every few seconds and fills the shell in.
// Keys are attacker-controlled text: everything is written with textContent or as SVG
// attributes holding numbers, never as markup (the page's CSP forbids inline script too).
// With credentials configured the feed answers 401: the page then asks for the service's
// token, keeps it in this tab's sessionStorage (gone when the tab closes, never sent to
// another site) and sends it as a bearer token with every request.
(() => {
  "use strict";
  const PERIOD_MS = 3000;
  const TOKEN_KEY = "bucketsync.token";
  const script = document.currentScript;
  // Relative to this file, so a proxy prefix in front of the service carries over.
  const FEED = new URL("../api/v1/activity", script.src);
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  function setText(id, text) {
    $(id).textContent = text;
  }

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  function seconds(s) {
    if (s === null || s === undefined) return "–";
    return s < 10 ? `${s.toFixed(2)} s` : `${Math.round(s)} s`;
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString();
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function svg(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    parent.appendChild(node);
    return node;
  }

  function renderTiles(data) {
    setText("bucket", data.bucket ? `s3://${data.bucket}` : "(no bucket configured)");
    setText("objects", data.objects.toLocaleString());
    setText("bytes", bytes(data.bytes));
    const sync = data.last_sync;
    const status = $("sync-status");
    if (data.sync_running) {
      status.textContent = "running…";
      status.className = "big";
    } else if (sync) {
      status.textContent = sync.status;
      status.className = `big ${sync.status}`;
    } else {
      status.textContent = "none yet";
      status.className = "big";
    }
    setText("sync-message", sync ? `${clock(sync.finished_at)} (${sync.source}): ${sync.message}` : "");
    const n = data.notifications;
    const q = data.queue;
    const received = n.received + (q ? q.received : 0);
    setText("events", received.toLocaleString());
    const parts = [`HTTP: ${n.applied} applied, ${n.ignored} ignored, ${n.failed} failed`];
    if (q) {
      let queue = `queue: ${q.received} received, ${q.succeeded} done, ${q.failed} failed`;
      if (q.failing_polls) queue += ` (polling fails: ${q.last_error || "?"})`;
      parts.push(queue);
    }
    setText("events-detail", parts.join(" · "));
  }

  function renderChart(minutes) {
    const chart = $("chart");
    chart.replaceChildren();
    const width = 640, height = 200, left = 40, right = 48, top = 12, bottom = 24;
    const plotW = width - left - right, plotH = height - top - bottom;
    const maxEvents = Math.max(1, ...minutes.map((m) => m.events));
    const lags = minutes.map((m) => m.lag_seconds_avg).filter((v) => v !== null);
    const maxLag = Math.max(1, ...lags);
    const step = plotW / Math.max(1, minutes.length);
    svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: "axis" }, chart);
    minutes.forEach((m, i) => {
      if (!m.events) return;
      const h = (m.events / maxEvents) * plotH;
      const bar = svg("rect", {
        x: left + i * step + 1, y: top + plotH - h, width: Math.max(1, step - 2), height: h, class: "bar",
      }, chart);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${clock(m.start)}: ${m.events} events, lag ${seconds(m.lag_seconds_avg)}`;
      bar.appendChild(title);
    });
    const points = [];
    minutes.forEach((m, i) => {
      if (m.lag_seconds_avg === null) return;
      const x = left + i * step + step / 2;
      const y = top + plotH - (m.lag_seconds_avg / maxLag) * plotH;
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
      svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5, class: "lag-point" }, chart);
    });
    if (points.length > 1) svg("polyline", { points: points.join(" "), class: "lag" }, chart);
    const label = (x, y, text, cls) => {
      const t = svg("text", { x, y, class: cls }, chart);
      t.textContent = text;
    };
    label(left - 4, top + 8, String(maxEvents), "label events-label");
    label(left - 4, top + plotH, "0", "label events-label");
    label(left + plotW + 4, top + 8, seconds(maxLag), "label lag-label");
    if (minutes.length) {
      label(left, height - 6, clock(minutes[0].start), "label");
      label(left + plotW, height - 6, "now", "label end");
    }
  }

  function renderChanges(changes) {
    const body = $("changes").tBodies[0];
    body.replaceChildren();
    for (const c of changes) {
      const row = document.createElement("tr");
      cell(row, clock(c.at));
      cell(row, c.event || c.action);
      cell(row, c.key, "key");
      cell(row, c.outcome, c.outcome);
      cell(row, seconds(c.lag_seconds));
      body.appendChild(row);
    }
    $("no-changes").hidden = changes.length > 0;
  }

  function renderErrors(errors) {
    const list = $("errors");
    list.replaceChildren();
    for (const e of errors) {
      const item = document.createElement("li");
      const when = document.createElement("span");
      when.className = "muted";
      when.textContent = `${clock(e.at)} ${e.source}: `;
      item.appendChild(when);
      if (e.key) {
        const key = document.createElement("code");
        key.textContent = e.key;
        item.appendChild(key);
        item.appendChild(document.createTextNode(" "));
      }
      item.appendChild(document.createTextNode(e.message));
      list.appendChild(item);
    }
    $("no-errors").hidden = errors.length > 0;
  }

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (error) {
      return null; // storage disabled: the token lives only as long as the page
    }
  }

  let token = storedToken();
  let timer = null;

  function keepToken(value) {
    token = value;
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (error) {
      // kept in memory only
    }
  }

  function askForToken(reason) {
    setText("login-reason", reason);
    $("login").hidden = false;
    setText("updated", "waiting for the API token");
    document.body.classList.add("stale");
    $("token").focus();
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault(); // nothing is submitted anywhere: the token goes into a header
    const field = $("token");
    const value = field.value.trim();
    field.value = "";
    if (!value) return;
    keepToken(value);
    $("login").hidden = true;
    refresh();
  });

  function headers() {
    const sent = { Accept: "application/json" };
    if (token) sent.Authorization = `Bearer ${token}`;
    return sent;
  }

  async function refresh() {
    clearTimeout(timer);
    let again = true;
    try {
      const answer = await fetch(FEED, { headers: headers(), cache: "no-store", credentials: "same-origin" });
      if (answer.status === 401 || answer.status === 403) {
        // Ask once and wait: polling on would only pile up refusals while the person types.
        again = false;
        const refused = token !== null && token !== "";
        keepToken(null);
        askForToken(refused
          ? "That token was refused. Enter the service's API token."
          : "This service needs its API token to show its activity.");
        return;
      }
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const data = await answer.json();
      renderTiles(data);
      renderChart(data.minutes);
      renderChanges(data.changes);
      renderErrors(data.errors);
      setText("updated", `updated ${clock(data.generated_at)}, every ${PERIOD_MS / 1000} s`);
      document.body.classList.remove("stale");
    } catch (error) {
      setText("updated", `cannot read the service's activity: ${error.message}`);
      document.body.classList.add("stale");
    } finally {
      if (again) timer = setTimeout(refresh, PERIOD_MS);
    }
  }

  refresh();
})();
