"""Browser tests: the application served by uvicorn in a thread, driven by Debian's Chromium.

- `served`: one server per module and database (the tests' `engine` fixture
  still empties the database after each test), on a free port of 127.0.0.1
  and reached as http://localhost:PORT, so that the `__Host-` Secure cookie
  works (Chromium treats localhost as a secure context) and a passkey's
  relying party id is `localhost`. Its clock is a `Clock` tests may move.
- `browser`: one headless Chromium per module (/usr/bin/chromium, installed
  by `make services`; missing, the tests fail rather than skip).
- `page`: a fresh context (cookies, storage) and page per test.
- `sign_in_page(page, served, session)`: put a session made with
  `tests.helpers.open_session` into the page's cookies, as signing in would.

Screenshots go to `test-artifacts/screenshots/` (git-ignored); those the README shows are
copied to `docs/screenshots/` when OPENAMR_UPDATE_SCREENSHOTS is set.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.engine import Engine

from openamr.app import create_app
from openamr.guard.sessions import SESSION_COOKIE, NewSession
from openamr.settings import MasterKey, Settings
from tests.helpers import NOW, Clock

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
UPDATE_SCREENSHOTS = "OPENAMR_UPDATE_SCREENSHOTS"  # set: the README's screenshots are remade
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@dataclass
class Served:
    """The running application: its address, clock and app (for its settings)."""

    base_url: str
    clock: Clock
    app: FastAPI

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def served(settings: Settings, migrated_engine: Engine) -> Iterator[Served]:
    """The application on a free port, in a thread, for the module's tests."""
    port = _free_port()
    base_url = f"http://localhost:{port}"
    clock = Clock(NOW)
    app = create_app(
        dataclasses.replace(settings, public_url=base_url), engine=migrated_engine, clock=clock
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="openamr-browser-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the application did not start on port {port}", pytrace=False)
        time.sleep(0.02)
    try:
        yield Served(base_url, clock, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def keyed(served: Served) -> Iterator[Served]:
    """The served app with a master key, for one test: TOTP secrets are sealed with it."""
    before: Settings = served.app.state.settings
    served.app.state.settings = dataclasses.replace(
        before, master_keys=(MasterKey("browser", bytes(range(32))),)
    )
    yield served
    served.app.state.settings = before


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; the tests fail (never skip) where it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make services` (installs Debian's chromium)")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, served: Served, engine: Engine) -> Iterator[BrowserContext]:
    """A fresh browser context per test (taking `engine` empties the database after it)."""
    made = browser.new_context(base_url=served.base_url, viewport=DESKTOP, accept_downloads=True)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in_page(page: Page, served: Served, session: NewSession) -> None:
    """Give the page's browser the session's cookie, as signing in would."""
    page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": session.token,
                # Chromium refuses to *set* a Secure cookie for an http URL through the
                # protocol, though it sends one to http://localhost; cookies ignore the scheme
                # and the port, so the https URL of the same host does.
                "url": served.base_url.replace("http://", "https://", 1) + "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )


def screenshot(page: Page, name: str, *, docs: bool = False) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/; its path.

    One the README shows (`docs`) is copied to docs/screenshots/ as well, but only when
    OPENAMR_UPDATE_SCREENSHOTS is set (`OPENAMR_UPDATE_SCREENSHOTS=1 .venv/bin/pytest
    tests/browser -k sqlite`), so that a test run leaves the checkout as it was.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get(UPDATE_SCREENSHOTS):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    return path
