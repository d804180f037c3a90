"""Each main screen's SQL per request, held to a budget (issue 18): a page that starts asking the database once
more per row (N+1), or a new lookup on every request, fails here before it is felt on the bench.

The statements are counted by SQLAlchemy's ``before_cursor_execute`` event on the pharmacy's engine, on the demo
pharmacy (`pharmacy demo`: five patients, a bag released and stored, one awaiting its check) with one preparation
under way; ``BEGIN`` counts (each is a unit of work of its own). A budget is today's count, rounded up a little:
lower it when a screen gets cheaper, never raise it to let a screen grow without asking why.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from pharmacy.db.models import Order
from pharmacy.domain.lifecycle import OrderState
from pharmacy.services import demo, preparation, users
from pharmacy.web.app import create_app
from tests import factories
from tests.web.conftest import Browser

# screen → (who, method, path, the statements it may use). Counted for issue 18: 16, 23, 5, 27, 11, 5, 8, 15, 13, 15
# and 5, down from about 18, 25, 12, 44, 17, 7, 12, 21, 20, 20 and 10 once a bag or a preparation was read with its
# order, patient, vial and diluent in one statement (not one each) and the session's user with the session; then
# 9, 19, 4, 15, 7, 4, 5, 9, 12, 13 and 3 once a request's reads shared one session (one BEGIN, not one per read) and
# the bag page read its bag once; the dashboard 14 and the bag list 3 once they read plain rows and each bag with
# its preparation and order (no longer two statements a bag); the dashboard 13, the bag page 13 and the bedside
# check 11 once the cold chain's places came with its moves and a label's prints and confirmations in one statement;
# the dashboard 11 once the locations' gaps came in one statement (not one a location), the bag status API 3 (one row);
# the recall screen of the demo's vial lot (one preparation under way) 9, was 10 (the preparations under way read
# each one's vial afterwards: one statement a preparation).
BUDGETS = {
    "worklist": ("tech", "GET", "/worklist", 10),
    "dashboard": ("tech", "GET", "/dashboard", 12),
    "bag list": ("tech", "GET", "/bags/", 4),
    "bag page": ("tech", "GET", "/bags/{bag}", 14),
    "preparation step": ("tech", "GET", "/prep/{prep}", 8),
    "stock": ("tech", "GET", "/stock/", 5),
    "check list": ("pharm", "GET", "/check/", 6),
    "check screen": ("pharm", "GET", "/check/{check}", 10),
    "trace": ("pharm", "GET", "/trace/bags/{bag}", 13),
    "bedside API check": ("nurse", "POST", "/api/v1/bedside/check", 12),
    "bag status API": ("nurse", "GET", "/api/v1/bags/{bag}", 3),
    "recall screen": ("pharm", "GET", "/trace/recall?lot=K123A", 9),
}


class Statements:
    """Every statement the engine sends while ``counting`` is on."""

    def __init__(self, engine) -> None:
        self.engine, self.seen, self.counting = engine, [], False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection, _cursor, statement, _parameters, _context, _executemany) -> None:
        if self.counting:
            self.seen.append(" ".join(statement.split()))

    def during(self, request):
        self.seen, self.counting = [], True
        try:
            return request()
        finally:
            self.counting = False

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def demo_screens(bare_pharmacy, clock):
    """The demo with one preparation under way; the app, browsers signed in, a nurse's API token, the ids."""
    pharmacy = bare_pharmacy
    demo.seed(pharmacy)
    with pharmacy.uow(readonly=True) as uow:
        order_id = uow.session.execute(select(Order.id).where(Order.state == OrderState.VERIFIED).order_by(Order.id)).scalars().first()
    prep = preparation.start(pharmacy, "tech", order_id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, demo.vial_scan("DEMO000000003"))
    app = create_app({"TESTING": True}, pharmacy=pharmacy)
    people = {}
    for name in ("tech", "pharm"):
        people[name] = Browser(app.test_client())
        assert people[name].login(name, factories.PASSWORDS[name]).status_code == 302
    token = users.create_token(pharmacy, "nurse", "statement budget")
    ids = {"bag": "BAG0000001", "prep": prep.id, "check": 2}  # the demo's stored bag; its second preparation, signed
    statements = Statements(pharmacy.db.engine)
    yield pharmacy, people, token, ids, statements
    statements.close()


def _ask(people, token, who: str, method: str, path: str):
    if who == "nurse":
        client = people["tech"].client.application.test_client()
        body = {"bag_scan": "BAG0000001", "patient_scan": "P-1002"} if method == "POST" else None
        return client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    return people[who].get(path)


@pytest.mark.parametrize("screen", list(BUDGETS))
def test_a_screen_asks_the_database_no_more_than_its_budget(demo_screens, screen):
    pharmacy, people, token, ids, statements = demo_screens
    who, method, path, budget = BUDGETS[screen]
    path = path.format(**ids)
    assert _ask(people, token, who, method, path).status_code == 200  # a first look (a session's first write, caches)
    response = statements.during(lambda: _ask(people, token, who, method, path))
    assert response.status_code == 200
    if method == "POST":
        assert response.get_json()["ok"] is True  # the demo's stored bag for its patient: the verdict a nurse hopes for
    listing = "\n".join(statements.seen)
    assert len(statements.seen) <= budget, f"{screen}: {len(statements.seen)} statements, budget {budget}:\n{listing}"
