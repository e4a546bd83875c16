"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): sign in, live queue
depth, queued jobs listed, and replaying a dead job moves it back to pending."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from monitor_support import TOKEN, Seeded, seed

from swell.clock import ManualClock
from swell.job import Status, new_job
from swell.monitor.api import create_app
from swell.settings import Settings
from swell.store.memory import MemoryStore

T = TypeVar("T")
CHROMIUM = os.environ.get("SWELL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


class ServerThread:
    """uvicorn serving the admin app on 127.0.0.1:<free port> from its own event loop and thread;
    ``run(coro)`` executes store calls on that loop."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.loop = asyncio.new_event_loop()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off",
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        self.serving = asyncio.run_coroutine_threadsafe(self.server.serve(), self.loop)
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert not self.serving.done(), f"uvicorn stopped: {self.serving.exception()}"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.02)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.serving.result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: ./run test installs it (apt-get install chromium)"
        if os.environ.get("CI"):  # CI must really run the browser test, not skip it
            pytest.fail(message)
        pytest.skip(message)
    from playwright import sync_api
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_dashboard_in_chromium(chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    clock = ManualClock(time.time())
    store = MemoryStore(Settings(), clock)
    server = ServerThread(create_app(store, token=TOKEN))
    server.start()
    try:
        seeded: Seeded = server.run(seed(store, clock))
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # sign in with the token (cookie), landing on the queue overview
        page.goto(server.url + "/")
        page.fill('input[name="token"]', TOKEN)
        page.click('button[type="submit"]')
        mail_depth = page.locator('tr[data-queue="mail"] [data-field="pending.normal"]')
        expect(mail_depth).to_have_text("4")

        # live depth: a job enqueued behind the page's back shows up through the JS poller
        server.run(store.enqueue(new_job("email.send", {"to": "late@example.com"}, now=clock(),
                                         queue="mail")))
        expect(mail_depth).to_have_text("5")

        # the job list shows the queued jobs
        page.click("nav >> text=Jobs")
        page.select_option('select[name="status"]', "pending")
        page.fill('input[name="queue"]', "mail")
        page.click("form.filters button")
        expect(page.locator("#jobs tbody tr")).to_have_count(5)
        for job_id in seeded.mail:
            expect(page.locator(f'tr[data-job="{job_id}"] [data-field="status"]')).to_have_text("pending")

        # the dead-letter queue: replay the dead job
        page.click("nav >> text=Dead letters")
        row = page.locator(f'tr[data-job="{seeded.dead}"]')
        expect(row.locator('[data-field="status"]')).to_have_text("failed")
        page.screenshot(path=str(tmp_path / "dead-letters.png"), full_page=True)
        row.locator('button[data-action="replay"]').click()
        expect(row.locator('[data-field="status"]')).to_have_text("pending")
        expect(page.locator("#flash")).to_contain_text("replayed")
        assert server.run(store.get(seeded.dead)).status is Status.PENDING
        assert server.run(store.dead()) == []

        # its detail page now says pending, with the last error and traceback kept for the record
        page.click(f'a[href="/jobs/{seeded.dead}"]')
        expect(page.locator('.job [data-field="status"]').first).to_have_text("pending")
        page.goto(server.url + "/")
        expect(page.locator('tr[data-queue="reports"] [data-field="dead"]')).to_have_text("0")
        screenshot_dir = os.environ.get("SWELL_SCREENSHOT_DIR")
        if screenshot_dir:
            page.screenshot(path=str(Path(screenshot_dir) / "swell-dashboard.png"), full_page=True)
            shutil.copy(tmp_path / "dead-letters.png", Path(screenshot_dir) / "swell-dead-letters.png")
        assert errors == []
    finally:
        server.stop()
