"""The status page at ``/``, as a person sees it: in a real browser (headless Chromium driven by
Playwright) against a live service on the emulator. An object uploaded while the page is open
appears on it without a reload, with or without credentials configured (then the page asks for
the token), and through the queue. Before the browser, over plain HTTP: what the guard lets a
browser have without credentials (the shell and its files) and what it does not (the JSON
``/``, the data).

Chromium is Debian's (``make test`` installs it with apt-get where it can); without it, or when
Playwright cannot launch it, the browser tests are skipped with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from tests.integration.service_harness import (
    BEARER,
    TOKEN,
    Http,
    put,
    running,
    s3_event,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTIFY = "/api/v1/s3-notification"
WAIT_MS = 20_000  # the page polls every 3 s; the queue's long poll is a second on the emulator
# What Chromium sends when it navigates: the shell is for exactly this.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
NO_VALUE = "\N{EN DASH}"  # what a tile shows before the feed has answered
# A key that is markup: the page must show it as text, never make an element of it.
HOSTILE_KEY = "<img src=x onerror=alert(1)>.txt"


def without_credentials(settings: Settings) -> Settings:
    """The service as a developer runs it on loopback: no token, no secret."""
    values = {**settings.model_dump(), "api_token": None, "hmac_secret": None}
    return Settings.model_validate(values)


def fresh_event(bucket: str, key: str, *, sequencer: str) -> bytes:
    """S3's put notification for ``key``, stamped now (the lag the page shows runs from it)."""
    event = json.loads(s3_event(bucket, key, sequencer=sequencer))
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event["Records"][0]["eventTime"] = now
    return json.dumps(event).encode()


# --- what the guard lets a browser have without credentials --------------------------------------


def test_the_json_root_needs_credentials_and_the_html_shell_does_not(
    api: Http, service_settings: Settings
) -> None:
    # GIVEN a service with a token and a secret (the api fixture)
    # WHEN / is asked for as an API client asks, with no credentials
    for headers in ({"Accept": "application/json"}, {"Accept": "*/*"}, {}):
        # THEN it is refused: the JSON form names the bucket and the mirror directory
        assert api.get("/", headers, anonymous=True).status == 401, headers
    # WHEN a browser navigates to / (it cannot send a bearer token)
    shell = api.get("/", {"Accept": BROWSER_ACCEPT}, anonymous=True)
    # THEN it gets the page's shell, which holds no data at all
    assert shell.status == 200, shell.body
    assert shell.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in shell.headers["content-security-policy"]
    assert service_settings.bucket is not None
    assert service_settings.bucket.encode() not in shell.body
    assert str(service_settings.mirror_dir).encode() not in shell.body
    # AND its script and style, which hold none either
    for name in ("status.js", "status.css"):
        assert api.get(f"/static/{name}", anonymous=True).status == 200, name
    # AND the data stays behind the credentials
    assert api.get("/api/v1/activity", anonymous=True).status == 401
    assert api.get("/api/v1/activity").status == 200
    # AND the exemption reaches the static files only, and only reads
    for sneaky in ("/static/../api/v1/stats", "/static/%2e%2e/api/v1/stats"):
        reply = api.get(sneaky, anonymous=True)
        assert reply.status == 404, (sneaky, reply.status)
        assert b"uptime" not in reply.body
    assert api.post("/", headers={"Accept": BROWSER_ACCEPT}).status == 401


def test_behind_a_proxy_prefix_the_shell_is_open_and_links_its_files_under_it(
    service_settings: Settings,
) -> None:
    with running(create_app(service_settings), root_path="/bucketsync") as api:
        shell = api.get("/", {"Accept": BROWSER_ACCEPT}, anonymous=True)
        data = api.get("/", {"Accept": "application/json"}, anonymous=True)
    assert shell.status == 200, shell.body
    assert b'src="/bucketsync/static/status.js"' in shell.body
    assert data.status == 401


# --- the page in a browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (make test installs Debian's chromium with apt-get "
            "where it can): the status page's browser tests did not run"
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pytest.skip(f"Playwright cannot launch {CHROMIUM}: {first}")
        yield launched
        launched.close()


@dataclass
class Seen:
    """What the page did besides showing itself."""

    requests: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)  # of the feed's requests
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions of the script
    dialogs: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        self.requests.append(request.url)
        if "/api/v1/activity" in request.url:
            self.authorization.append(request.headers.get("authorization"))

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(str(error))

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Seen]]:
    """A fresh tab (its own sessionStorage), recording requests, errors and dialogs."""
    context = browser.new_context()
    tab = context.new_page()
    seen = Seen()
    tab.on("request", seen.request)
    tab.on("console", seen.console)
    tab.on("pageerror", seen.page_error)
    tab.on("dialog", seen.dialog)
    yield tab, seen
    context.close()
    assert seen.page_errors == [], seen.page_errors


@pytest.fixture
def open_api(service_settings: Settings) -> Iterator[Http]:
    with running(create_app(without_credentials(service_settings))) as http:
        yield http


def test_an_upload_appears_on_the_open_page_without_a_reload(
    open_api: Http, clients: Clients, stack: Stack, page: tuple[Page, Seen]
) -> None:
    tab, seen = page
    # GIVEN the page open on a service with no credentials (loopback) and an empty mirror
    tab.goto(open_api.base_url + "/")
    expect(tab.locator("#objects")).to_have_text("0", timeout=WAIT_MS)
    expect(tab.locator("#no-changes")).to_be_visible()
    expect(tab.locator("#login")).to_be_hidden()
    # WHEN an object whose key is markup is uploaded, and S3's notification POSTed
    put(clients, stack, HOSTILE_KEY, b"hello page")
    reply = open_api.post(NOTIFY, fresh_event(stack.bucket, HOSTILE_KEY, sequencer="60"))
    assert reply.status == 200, reply.body
    # THEN the page shows it by itself: in the recent changes, the tiles and the chart
    row = tab.locator("#changes tbody tr").first
    expect(row.locator("td.key")).to_have_text(HOSTILE_KEY, timeout=WAIT_MS)
    expect(row.locator("td").nth(1)).to_have_text("ObjectCreated:Put")
    expect(row.locator("td").nth(3)).to_have_text("applied")
    expect(tab.locator("#objects")).to_have_text("1")
    expect(tab.locator("#bytes")).to_have_text("10 B")
    expect(tab.locator("#no-changes")).to_be_hidden()
    expect(tab.locator("#chart rect.bar")).to_have_count(1)
    expect(tab.locator("#chart circle.lag-point")).to_have_count(1)
    lag = row.locator("td").nth(4).inner_text()
    assert re.fullmatch(r"\d+\.\d\d s", lag), lag  # from the event's time to the file: seconds
    # AND the key stayed text: no element was made of it, no script of it ran
    assert tab.locator("#changes img").count() == 0
    assert seen.dialogs == []
    # WHEN a full sync runs, and a notification of another bucket is refused
    assert open_api.post("/api/v1/sync").status == 200
    foreign = open_api.post(NOTIFY, s3_event("another-bucket", "x.txt", sequencer="61"))
    assert foreign.status == 422, foreign.body
    # THEN the page shows the sync's result and the error
    expect(tab.locator("#sync-status")).to_have_text("success", timeout=WAIT_MS)
    expect(tab.locator("#sync-message")).to_contain_text("0 downloaded, 1 skipped, 0 deleted")
    expect(tab.locator("#errors li").first).to_contain_text("another-bucket", timeout=WAIT_MS)
    expect(tab.locator("#no-errors")).to_be_hidden()
    # AND everything came from the service itself, and the browser reported no error (a CSP
    # violation would be one)
    assert seen.requests
    assert all(url.startswith(open_api.base_url + "/") for url in seen.requests), seen.requests
    assert seen.console_errors == []


def test_with_a_token_the_page_asks_for_it_then_shows_an_upload(
    api: Http, clients: Clients, stack: Stack, page: tuple[Page, Seen]
) -> None:
    tab, seen = page
    # GIVEN a service with a token; the browser navigates to it with no credentials
    tab.goto(api.base_url + "/")
    # THEN the shell loads and asks for the token, showing no data
    expect(tab.locator("#login")).to_be_visible(timeout=WAIT_MS)
    expect(tab.locator("#login-reason")).to_contain_text("needs its API token")
    expect(tab.locator("#objects")).to_have_text(NO_VALUE)
    # WHEN a wrong token is typed
    tab.fill("#token", "not-the-token-at-all")
    tab.press("#token", "Enter")
    # THEN it is refused, and asked for again
    expect(tab.locator("#login-reason")).to_contain_text("refused", timeout=WAIT_MS)
    expect(tab.locator("#login")).to_be_visible()
    # WHEN the service's token is typed
    tab.fill("#token", TOKEN)
    tab.click("#login button")
    # THEN the page shows the mirror
    expect(tab.locator("#objects")).to_have_text("0", timeout=WAIT_MS)
    expect(tab.locator("#login")).to_be_hidden()
    # WHEN an object is uploaded, and S3's notification POSTed
    put(clients, stack, "reports/q1.csv", b"id,total\n1,20\n")
    reply = api.post(NOTIFY, fresh_event(stack.bucket, "reports/q1.csv", sequencer="60"), BEARER)
    assert reply.status == 200, reply.body
    # THEN it appears on the page by itself
    expect(tab.locator("#changes td.key").first).to_have_text("reports/q1.csv", timeout=WAIT_MS)
    expect(tab.locator("#objects")).to_have_text("1")
    # AND the tab keeps the token: a reload shows the page without asking again
    tab.reload()
    expect(tab.locator("#objects")).to_have_text("1", timeout=WAIT_MS)
    expect(tab.locator("#login")).to_be_hidden()
    stored = tab.evaluate("sessionStorage.getItem('bucketsync.token')")
    assert stored == TOKEN
    # AND it went only into the Authorization header, never into the document
    assert f"Bearer {TOKEN}" in seen.authorization
    assert TOKEN not in tab.content()
    assert seen.dialogs == []


def test_an_object_that_came_through_the_queue_appears_with_its_lag(
    service_settings: Settings, clients: Clients, stack: Stack, page: tuple[Page, Seen]
) -> None:
    tab, _ = page
    # GIVEN a service polling the stack's queue, the page open on it
    with running(create_app(without_credentials(service_settings), queue=True)) as api:
        tab.goto(api.base_url + "/")
        expect(tab.locator("#objects")).to_have_text("0", timeout=WAIT_MS)
        # WHEN an object is put into the bucket: S3 notifies the queue, nobody POSTs anything
        put(clients, stack, "queued/photo.jpg", b"\xff\xd8 not really a jpeg")
        # THEN the page shows it, with the lag from S3's event time to the file on disk
        row = tab.locator("#changes tbody tr").first
        expect(row.locator("td.key")).to_have_text("queued/photo.jpg", timeout=WAIT_MS)
        expect(row.locator("td").nth(3)).to_have_text("applied")
        lag = row.locator("td").nth(4).inner_text()
        assert re.fullmatch(r"\d+(\.\d\d)? s", lag), lag
        expect(tab.locator("#chart circle.lag-point")).to_have_count(1)
        expect(tab.locator("#events-detail")).to_contain_text("queue: ")
