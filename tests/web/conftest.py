"""The web app on the test database, and a small browser over Flask's test client that carries the
CSRF token of the last page it saw (CSRF stays switched on in every web test)."""

from __future__ import annotations

import html
import re

import pytest

from pharmacy.web.app import create_app
from tests.factories import PASSWORDS

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')


class Browser:
    """Like a browser: it sends the page it is on as ``Referer`` and follows a ``303 See Other`` (a POST
    that rendered a page, web/prg.py) at once, so ``post`` returns the page shown after it, with its
    status; ``last_post_status`` is what the POST itself answered."""

    def __init__(self, client) -> None:
        self.client = client
        self.token: str | None = None
        self.page: str | None = None
        self.last_post_status: int | None = None

    def _seen(self, response):
        if response.mimetype == "text/html":
            match = _TOKEN.search(response.get_data(as_text=True))
            if match:
                self.token = match[1]
            if response.request.method == "GET" and response.status_code < 300:
                self.page = response.request.url
        return response

    def get(self, url: str, **kwargs):
        return self._seen(self.client.get(url, **kwargs))

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        if self.page and "headers" not in kwargs:
            kwargs["headers"] = {"Referer": self.page}
        response = self.client.post(url, data=data, **kwargs)
        self.last_post_status = response.status_code
        if response.status_code == 303 and not kwargs.get("follow_redirects"):
            response = self.client.get(response.headers["Location"])
        return self._seen(response)

    def login(self, username: str, password: str | None = None):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password or PASSWORDS[username]})
        if response.status_code == 302:
            self.get("/", follow_redirects=True)  # the new session's token
        return response


def text(response) -> str:
    """The page as a person reads it (entities such as &#39; turned back into characters)."""
    return html.unescape(response.get_data(as_text=True))


def version_on(response) -> str:
    """The preparation version the page's forms carry."""
    return _VERSION.search(response.get_data(as_text=True))[1]


@pytest.fixture
def app(pharmacy):
    return create_app({"TESTING": True}, pharmacy=pharmacy)


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def signed_in(app):
    """``signed_in("tech")``: a browser with that demo user signed in."""
    def sign_in(username: str) -> Browser:
        browser = Browser(app.test_client())
        response = browser.login(username)
        assert response.status_code == 302, text(response)
        return browser

    return sign_in
