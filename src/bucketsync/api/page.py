"""The status page at ``/`` for a browser: a static shell, filled in by ``static/status.js``
from ``/api/v1/activity`` every few seconds.

Keys are whatever a bucket's writers chose, so the page treats them as hostile text: the shell
holds no data at all, the script writes with ``textContent`` only, and the
Content-Security-Policy allows scripts and styles from this service's own files and nothing
inline, so even a mistake in the script could not run markup that a key smuggled in.

Because the shell and its files hold no data, the guard lets a browser have them without
credentials (a navigation cannot carry a bearer token); the data stays behind them. When the
feed answers 401 the script asks for the service's token, keeps it in the tab's
``sessionStorage`` and sends it as ``Authorization: Bearer`` with every request.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.responses import HTMLResponse

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Vary": "Accept",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bucketsync</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root}{static}/status.css">
<script src="{root}{static}/status.js" defer></script>
</head>
<body>
<header>
  <h1>bucketsync <span id="bucket" class="muted"></span></h1>
  <p id="updated" class="muted" role="status">loading…</p>
</header>
<form id="login" hidden>
  <p id="login-reason"></p>
  <label for="token">API token (<code>BUCKETSYNC_API_TOKEN</code>)</label>
  <input id="token" name="token" type="password" autocomplete="off" spellcheck="false"
    required>
  <button type="submit">Show</button>
  <p class="muted">Kept in this tab only (sessionStorage), sent as a bearer token.</p>
</form>
<main>
  <section class="tiles">
    <div class="tile"><h2>Objects mirrored</h2><p id="objects" class="big">&ndash;</p></div>
    <div class="tile"><h2>Bytes mirrored</h2><p id="bytes" class="big">&ndash;</p></div>
    <div class="tile"><h2>Last full sync</h2><p id="sync-status" class="big">&ndash;</p>
      <p id="sync-message" class="muted"></p></div>
    <div class="tile"><h2>Events received</h2><p id="events" class="big">&ndash;</p>
      <p id="events-detail" class="muted"></p></div>
  </section>
  <section>
    <h2>Last hour</h2>
    <svg id="chart" viewBox="0 0 640 200" role="img"
      aria-label="Events per minute and lag over the last hour"></svg>
    <p class="legend"><span class="swatch bars"></span> events per minute
      <span class="swatch lag"></span> lag from event to file on disk (average per minute)</p>
  </section>
  <section class="lists">
    <div>
      <h2>Recent changes</h2>
      <table id="changes">
        <thead><tr><th>time</th><th>change</th><th>key</th><th>outcome</th><th>lag</th></tr>
        </thead>
        <tbody></tbody>
      </table>
      <p id="no-changes" class="muted">No changes yet.</p>
    </div>
    <div>
      <h2>Recent errors</h2>
      <ul id="errors"></ul>
      <p id="no-errors" class="muted">No errors.</p>
    </div>
  </section>
</main>
<footer>
  <a href="{root}/docs">API documentation</a> ·
  <a href="{root}/api/v1/health">health</a> ·
  <a href="{root}/api/v1/stats">stats</a> ·
  <a href="{root}/api/v1/activity">this page's data</a>
</footer>
</body>
</html>
"""


def wants_html(accept: str) -> bool:
    """Whether ``Accept`` prefers HTML to JSON. A browser names text/html; an API client
    names JSON or nothing (``*/*``), and keeps getting JSON."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        kind, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        kind = kind.strip().lower()
        weights[kind] = max(weights.get(kind, 0.0), weight)
    page = max(weights.get(kind, 0.0) for kind in HTML_TYPES)
    data = weights.get("application/json", 0.0)
    return page > 0 and page >= data


def status_page(root_path: str) -> HTMLResponse:
    """The shell; ``root_path`` is the server's (a proxy prefix), never a request header."""
    body = SHELL.format(root=html.escape(root_path, quote=True), static=STATIC_URL)
    return HTMLResponse(body, headers=PAGE_HEADERS)
