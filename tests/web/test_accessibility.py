"""Every screen of the bench journey: a label for every input, one h1, the page language, and no
inline script or style (the Content-Security-Policy would block them)."""

from __future__ import annotations

from html.parser import HTMLParser

from tests import factories
from tests.web.conftest import version_on

UNLABELLED_TYPES = {"hidden", "submit", "button"}


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: list[dict] = []
        self.labels: set[str] = set()
        self.h1 = 0
        self.lang = None
        self.inline: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in UNLABELLED_TYPES:
            self.fields.append(attrs)
        elif tag == "script" and "src" not in attrs:
            self.inline.append("script")
        if "style" in attrs or any(name.startswith("on") for name in attrs):
            self.inline.append(f"{tag} {sorted(attrs)}")
        if tag == "style":
            self.inline.append("style")


def check(response) -> None:
    page = Page(response.get_data(as_text=True))
    unlabelled = [f for f in page.fields if f.get("id") not in page.labels]
    assert unlabelled == [], response.request.path
    assert page.h1 == 1, response.request.path
    assert page.lang == "en"
    assert page.inline == [], response.request.path


def test_every_screen_of_the_journey_is_labelled_and_has_no_inline_code(browser, signed_in, pharmacy):
    check(browser.get("/login"))
    tech = signed_in("tech")
    for url in ("/worklist", "/orders/new", "/orders/pending", "/bags/", "/stock/"):
        check(tech.get(url))
    order = factories.verified_order(pharmacy)
    prep_id = int(tech.post(f"/prep/start/{order.id}").headers["Location"].rsplit("/", 1)[1])
    for step, fields in [("vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])}), ("inspection", {"result": "pass"}),
                         ("diluent", {"scan": factories.NACL_SCAN}), ("volume", {"volume": "1.2 mL"}),
                         ("photo/syringe", factories.photo_field(prep_id, "syringe")), ("mixing", {}),
                         ("photo/bag", factories.photo_field(prep_id, "bag")),
                         ("sign", {"password": factories.PASSWORDS["tech"]})]:
        page = tech.get(f"/prep/{prep_id}")
        check(page)
        tech.post(f"/prep/{prep_id}/{step}", {"version": version_on(page), **fields})
    check(tech.get(f"/prep/{prep_id}"))
    check(tech.post(f"/prep/{prep_id}/sign", {"version": "1"}))  # a refusal page
    pharm = signed_in("pharm")
    check(pharm.get("/check/"))
    check(pharm.get(f"/check/{prep_id}"))
    check(pharm.get(f"/orders/{order.id}"))
    check(pharm.get("/bags/BAG0000001"))
    check(signed_in("nurse").get("/worklist"))  # the 403 page
