"""Browser tests: the real app under waitress in a thread of this process (so the frozen clock of
the ``clock`` fixture holds there too), driven by Debian's chromium through Playwright. A browser is
never downloaded. Without chromium the tests are skipped locally and fail in CI (``CI`` set)."""

from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.request

import pytest
import waitress

from pharmacy.web.app import create_app

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def require_chromium() -> str:
    """Debian's chromium from PATH. Missing: a skip on a developer's machine, a failure in CI."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not on PATH (apt-get install chromium); browser tests need it"
        if os.environ.get("CI"):
            pytest.fail(message + ": in CI a missing browser is a failure, not a skip")
        pytest.skip(message)
    return path


@pytest.fixture
def chromium_path() -> str:
    return require_chromium()


class LiveServer:
    """waitress on 127.0.0.1 and a free port, in a thread; ``stop`` closes every channel and joins."""

    def __init__(self, app) -> None:
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="waitress-e2e", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # sockets closed under the loop while stopping
            if not self.stopping:
                raise

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not answer on {self.url} within {START_TIMEOUT:.0f} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping = True
        for channel in list(self.server._map.values()):
            channel.close()
        self.server.task_dispatcher.shutdown()
        self.thread.join(STOP_TIMEOUT)
        assert not self.thread.is_alive(), "waitress did not stop"


@pytest.fixture
def live_server(pharmacy):
    server = LiveServer(create_app(pharmacy=pharmacy))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shots(artifacts):
    folder = artifacts / "e2e"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
