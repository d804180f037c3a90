"""Server-side sessions (issue 13 point 1, H21): a real server (waitress on loopback, in a thread of this
process so the frozen clock holds there too) and cookies copied with ``requests``: a copy opens nothing
after sign-out, idle timeout, absolute lifetime, an admin's "End sessions", a lock; and the in-process app
for the cookie's form, the writes per request and two workers sharing sessions."""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import event, select

from pharmacy.cli import main
from pharmacy.db.models import AuditEntry, UserSession
from pharmacy.services import base
from pharmacy.web.app import create_app
from tests import factories
from tests.e2e.conftest import LiveServer
from tests.web.conftest import Browser, text

COOKIE = "pharmacy_session"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Client:
    """One browser against the live server: a ``requests`` session that carries the last CSRF token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.token: str | None = None

    def _seen(self, response):
        match = _TOKEN.search(response.text)
        if match:
            self.token = match[1]
        return response

    def get(self, path: str):
        return self._seen(self.http.get(self.url + path, allow_redirects=False, timeout=10))

    def post(self, path: str, data: dict | None = None):
        """Like a browser, a ``303 See Other`` (a POST that rendered a page: web/prg.py) is followed at once."""
        response = self.http.post(self.url + path, data={"csrf_token": self.token, **(data or {})},
                                  allow_redirects=False, timeout=10)
        if response.status_code == 303:
            response = self.http.get(self.url + response.headers["Location"], allow_redirects=False, timeout=10)
        return self._seen(response)

    def login(self, username: str, password: str | None = None):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password or factories.PASSWORDS[username]})
        if response.status_code == 302:
            self.get(response.headers["Location"])
            self.get("/worklist" if username != "admin" else "/stock/")
        return response

    @property
    def cookie(self) -> str:
        return self.http.cookies[COOKIE]


def replay(server, cookie: str, path: str = "/worklist"):
    """The copied cookie, sent by another program (no other state)."""
    return requests.get(server.url + path, cookies={COOKIE: cookie}, allow_redirects=False, timeout=10)


def sign_in_page_after(server, response) -> str:
    """The sign-in page a refused replay was sent to, with the message its new (anonymous) session carries."""
    return requests.get(server.url + response.headers["Location"], cookies={COOKIE: response.cookies[COOKIE]},
                        timeout=10).text


def refused(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def server(pharmacy):
    live = LiveServer(create_app(pharmacy=pharmacy))
    live.start()
    yield live
    live.stop()


@pytest.mark.hazard("H21")
def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(server):
    tech = Client(server.url)
    assert tech.login("tech").status_code == 302
    copied = tech.cookie
    assert replay(server, copied).status_code == 200  # the copy works while the session is open
    assert tech.post("/logout").status_code == 302
    assert refused(replay(server, copied, "/stock/"))
    response = replay(server, copied)
    assert refused(response)
    assert "Your session has ended (signed out). Sign in again." in sign_in_page_after(server, response)


@pytest.mark.hazard("H21")
def test_an_idle_session_ends_on_the_server_and_its_copy_opens_nothing(server, clock):
    tech = Client(server.url)
    tech.login("tech")
    copied = tech.cookie
    clock.advance(minutes=14)
    assert tech.get("/worklist").status_code == 200  # activity (recorded: more than 30 s since the last) keeps it
    clock.advance(minutes=15, seconds=1)
    response = replay(server, copied)
    assert refused(response)
    assert "signed out after 15 minutes without activity" in sign_in_page_after(server, response)
    assert refused(tech.get("/worklist"))  # the browser's own cookie too: the session itself has ended


@pytest.mark.hazard("H21")
def test_the_idle_timeout_counts_from_the_last_recorded_request_at_most_30_seconds_early(server, clock):
    tech = Client(server.url)
    tech.login("tech")
    clock.advance(seconds=20)
    assert tech.get("/worklist").status_code == 200  # within 30 s of the last record: not written
    clock.advance(minutes=14, seconds=50)  # 15:10 after the recorded request, 14:50 after the last one
    assert refused(tech.get("/worklist"))


@pytest.mark.hazard("H21")
def test_an_active_session_ends_at_its_absolute_lifetime(server, clock):
    tech = Client(server.url)
    tech.login("tech")
    copied = tech.cookie
    for _ in range(71):  # 11 h 50 min of steady work
        clock.advance(minutes=10)
        assert replay(server, copied).status_code == 200
    clock.advance(minutes=9)
    assert replay(server, copied).status_code == 200  # 11 h 59 min
    clock.advance(minutes=2)
    response = replay(server, copied)
    assert refused(response)
    assert "a session lasts at most 12 hours after sign-in" in sign_in_page_after(server, response)
    assert refused(tech.get("/worklist"))


def test_the_absolute_lifetime_is_a_setting(pharmacy, tmp_path, monkeypatch):
    from pharmacy import config

    monkeypatch.setenv("PHARMACY_SESSION_LIFETIME_HOURS", "8")
    assert config.load({"instance": tmp_path}).session_lifetime_hours == 8
    monkeypatch.setenv("PHARMACY_SESSION_LIFETIME_HOURS", "0")
    with pytest.raises(config.ConfigError, match="PHARMACY_SESSION_LIFETIME_HOURS"):
        config.load({"instance": tmp_path})


@pytest.mark.hazard("H21")
def test_an_admin_ends_a_users_sessions_and_their_copies_open_nothing(server, pharmacy):
    first, second = Client(server.url), Client(server.url)
    first.login("tech")
    second.login("tech")
    copies = [first.cookie, second.cookie]
    admin = Client(server.url)
    assert admin.login("admin").status_code == 302
    page = admin.get("/admin/sessions")
    assert page.status_code == 200
    assert "Open sessions of tech" in page.text and page.text.count("127.0.0.1") >= 3
    response = admin.post("/admin/sessions/tech/end")
    assert response.status_code == 302
    assert "2 sessions of tech ended: they must sign in again." in admin.get(response.headers["Location"]).text
    for copied in copies:
        assert refused(replay(server, copied))
    assert "Open sessions of tech" not in admin.get("/admin/sessions").text
    assert admin.get("/stock/").status_code == 200  # the admin's own session goes on
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "user.sessions_ended")).scalar_one()
    assert entry.username == "admin" and entry.new == {"username": "tech", "sessions": 2}


def test_ending_sessions_needs_the_admin_and_the_csrf_token(signed_in, pharmacy):
    tech = signed_in("tech")
    pharm = signed_in("pharm")
    assert pharm.get("/admin/sessions").status_code == 403
    assert pharm.post("/admin/sessions/tech/end").status_code == 403
    admin = signed_in("admin")
    assert admin.post("/admin/sessions/tech/end", csrf=False).status_code == 400
    assert tech.get("/worklist").status_code == 200
    assert admin.post("/admin/sessions/nobody/end").status_code == 404


@pytest.mark.hazard("H21")
def test_the_command_line_ends_a_users_sessions(server, pharmacy):
    tech = Client(server.url)
    tech.login("tech")
    settings = pharmacy.settings
    runner = CliRunner(env={"PHARMACY_INSTANCE": str(settings.instance), "PHARMACY_DATABASE_URL": settings.database_url,
                            "PHARMACY_TIMEZONE": settings.timezone})
    result = runner.invoke(main, ["users", "end-sessions", "TECH"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 session(s) of tech ended" in result.output
    assert refused(replay(server, tech.cookie))
    assert runner.invoke(main, ["users", "end-sessions", "nobody"]).exit_code != 0


@pytest.mark.hazard("H21")
@pytest.mark.hazard("H22")
def test_a_lock_ends_the_accounts_open_sessions(server):
    pharm = Client(server.url)
    pharm.login("pharm")
    copied = pharm.cookie
    attacker = Client(server.url)
    for _ in range(5):
        assert attacker.login("pharm", "guess-guess-guess").status_code == 401
    response = replay(server, copied)
    assert refused(response)
    assert "Your session has ended (account locked). Sign in again." in sign_in_page_after(server, response)


@pytest.mark.hazard("H21")
def test_sign_in_starts_a_new_session_id_and_the_old_one_opens_nothing(server):
    tech = Client(server.url)
    tech.get("/login")
    before = tech.cookie
    tech.login("tech")
    assert tech.cookie != before
    assert refused(replay(server, before))
    assert replay(server, tech.cookie).status_code == 200


def test_the_table_keeps_only_the_hash_of_the_cookie(server, pharmacy):
    tech = Client(server.url)
    tech.login("tech")
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(select(UserSession)).scalars().all()
    assert hashlib.sha256(tech.cookie.encode()).hexdigest() in {r.sid_hash for r in rows}
    for row in rows:
        assert tech.cookie not in (row.sid_hash, row.data)
    mine = next(r for r in rows if r.sid_hash == hashlib.sha256(tech.cookie.encode()).hexdigest())
    assert mine.address == "127.0.0.1" and mine.user_agent.startswith("python-requests")


def test_a_forged_or_oversized_cookie_opens_nothing(server):
    assert refused(replay(server, "x" * 43))
    assert refused(replay(server, "x" * 5000))
    assert refused(replay(server, "ey" + "A" * 60 + ".signed.cookie"))


def _writes(pharmacy):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if "user_sessions" in statement and not statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(pharmacy.db.engine, "before_cursor_execute", seen)
    return statements


def test_a_get_writes_the_session_at_most_every_30_seconds(signed_in, pharmacy, clock):
    tech = signed_in("tech")
    tech.get("/worklist")
    writes = _writes(pharmacy)
    for _ in range(5):
        clock.advance(seconds=5)
        assert tech.get("/worklist").status_code == 200
    assert writes == []  # 25 s of GETs: nothing written
    clock.advance(seconds=10)
    tech.get("/worklist")
    assert len(writes) == 1 and "last_seen_at" in writes[0] and "data" not in writes[0].split("WHERE")[0]


def test_csrf_and_flash_messages_live_in_the_server_side_session(signed_in):
    tech = signed_in("tech")
    assert tech.post("/logout", csrf=False).status_code == 400
    admin = signed_in("admin")
    response = admin.post("/admin/sessions/tech/end")
    page = admin.get(response.headers["Location"])
    assert "1 session of tech ended" in text(page)
    assert "1 session of tech ended" not in text(admin.get("/admin/sessions"))  # shown once


def _stored_data(pharmacy, browser) -> str:
    key = hashlib.sha256(browser.client.get_cookie(COOKIE).value.encode()).hexdigest()
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(UserSession.data).where(UserSession.sid_hash == key)).scalar_one()


@pytest.mark.hazard("H36")
def test_the_page_that_shows_a_message_writes_nothing_and_the_next_write_leaves_it_out(signed_in, pharmacy):
    """Issue 18: the page showing a flash message (or the page a POST rendered) does not write the session to take
    it out; the browser keeps the data's random mark in a second cookie, so a reload does not show it again, and
    the session's next write leaves it out for good."""
    admin = signed_in("admin")
    response = admin.post("/admin/sessions/tech/end")
    assert "sessions of tech ended" in _stored_data(pharmacy, admin)
    writes = _writes(pharmacy)
    page = admin.get(response.headers["Location"])
    assert "sessions of tech ended" in text(page)
    assert writes == []  # shown without a write
    [mark] = [c for c in page.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "_seen=")]
    assert "HttpOnly" in mark and "SameSite=Lax" in mark and "Path=/" in mark
    assert "sessions of tech ended" not in text(admin.get("/admin/sessions"))  # a reload: not again
    assert writes == []
    admin.post("/admin/sessions/nurse/end")  # the next write: that message is gone from the stored data
    stored = _stored_data(pharmacy, admin)
    assert "sessions of tech ended" not in stored and "sessions of nurse ended" in stored


@pytest.mark.hazard("H36")
def test_a_missing_or_forged_mark_only_shows_the_message_again(signed_in, pharmacy):
    admin = signed_in("admin")
    response = admin.post("/admin/sessions/tech/end")
    assert "sessions of tech ended" in text(admin.get(response.headers["Location"]))
    admin.client.set_cookie(COOKIE + "_seen", "forged")
    assert "sessions of tech ended" in text(admin.get("/admin/sessions"))  # shown again, nothing else
    admin.client.delete_cookie(COOKIE + "_seen")
    page = admin.get("/admin/sessions")
    assert "sessions of tech ended" in text(page)
    assert "sessions of tech ended" not in text(admin.get("/admin/sessions"))  # the mark sent with that page
    assert admin.get("/worklist").status_code in (200, 403)


def test_with_secure_cookies_the_cookie_is_host_only(pharmacy):
    app = create_app({"SESSION_COOKIE_SECURE": True}, pharmacy=pharmacy)
    browser = Browser(app.test_client())
    https = {"base_url": "https://localhost", "headers": {"Referer": "https://localhost/login"}}  # flask-wtf's SSL check
    browser.get("/login", **https)
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"]}, **https)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if "session" in c]
    assert cookie.startswith("__Host-pharmacy_session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie
    assert browser.get("/worklist", **https).status_code == 200


@pytest.mark.hazard("H21")
def test_two_workers_share_sessions(pharmacy):
    """Two app processes (here: two apps with their own engines) on one database see one session table."""
    one = create_app(pharmacy=pharmacy)
    other = create_app(pharmacy=base.build(pharmacy.settings))
    browser = Browser(one.test_client())
    browser.login("tech")
    copied = browser.client.get_cookie(COOKIE).value
    second = other.test_client()
    second.set_cookie(COOKIE, copied)
    assert second.get("/worklist").status_code == 200
    browser.post("/logout")
    assert second.get("/worklist").status_code == 302


@pytest.mark.hazard("H21")
def test_disabling_a_user_ends_their_sessions(server, pharmacy):
    from pharmacy.services import accounts

    nurse = Client(server.url)
    nurse.login("nurse")
    copied = nurse.cookie
    assert replay(server, copied, "/ward/").status_code == 200
    accounts.disable_user(pharmacy, "admin", "nurse", "left the hospital")
    assert refused(replay(server, copied, "/ward/"))


def test_a_static_file_reads_no_session(signed_in, pharmacy):
    tech = signed_in("tech")
    statements: list[str] = []
    event.listen(pharmacy.db.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: statements.append(statement) if "user_sessions" in statement else None)
    static = [rule.rule for rule in tech.client.application.url_map.iter_rules() if rule.endpoint == "static"][0]
    response = tech.get(static.replace("<path:filename>", "pharmacy.css"))
    response.close()
    assert response.status_code == 200 and statements == []
    assert tech.get("/worklist").status_code == 200 and statements  # a screen does read it
