"""Each request in its reader's language (issue 16 point 8): Flask-Babel picks the locale and the time zone,
``pharmacy/i18n.py`` holds the catalogues, and Jinja's i18n extension reads them.

The language: the signed-in user's own choice, else the pharmacy's ``PHARMACY_LANGUAGE`` (English by default);
before sign-in, the browser's (``Accept-Language``) among the shipped languages.
The time zone is the pharmacy's. Templates write ``{{ _("Scan the vial") }}`` or ``{% trans %}`` blocks;
``{{ value|t }}`` shows a ``pharmacy.i18n.lazy`` text of a table in the current language.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import Babel
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from pharmacy import i18n


def language() -> str:
    """The language this request is shown in: the signed-in user's choice, else the pharmacy's; before anyone
    is signed in (the sign-in page), the browser's preferred language among the shipped ones, else the pharmacy's."""
    user = current_user._get_current_object() if current_user else None
    if user is not None and user.is_authenticated:
        return i18n.normalise(getattr(user, "language", None) or _pharmacy_language())
    browser = request.accept_languages.best_match(list(i18n.LANGUAGES)) if has_request_context() else None
    return i18n.normalise(browser or _pharmacy_language())


def _pharmacy_language() -> str:
    from pharmacy.web.common import get_pharmacy

    return getattr(get_pharmacy().settings, "language", i18n.SOURCE_LANGUAGE)


def _time_zone() -> str:
    from pharmacy.web.common import get_pharmacy

    return get_pharmacy().settings.timezone


def _set_language() -> None:
    g.i18n_token = i18n.set_current(language())


def _reset_language(_error: BaseException | None = None) -> None:
    token = g.pop("i18n_token", None)
    if token is not None:
        i18n.reset(token)


def _template_gettext(text: str) -> str:
    return i18n.translate(text)


def _template_ngettext(singular: str, plural: str, count: int) -> str:
    return i18n.translate_plural(singular, plural, count)


@pass_context
def _newstyle_gettext(__context: Context, __string: str, **variables: object) -> str:
    """Jinja's newstyle ``gettext`` (jinja2.ext._make_new_gettext), calling ours directly: the text in the current
    language, escaped where the template autoescapes, its ``%(name)s`` fields filled (and escaped)."""
    text = i18n.translate(__string)
    return (Markup(text) if __context.eval_ctx.autoescape else text) % variables


@pass_context
def _newstyle_ngettext(__context: Context, __singular: str, __plural: str, __num: int, **variables: object) -> str:
    variables.setdefault("num", __num)
    text = i18n.translate_plural(__singular, __plural, __num)
    return (Markup(text) if __context.eval_ctx.autoescape else text) % variables


def _page_texts() -> dict[str, dict[str, str]]:
    """The texts pharmacy.js shows (the countdowns), in the request's language, for base.html's ``data-text-…``
    attributes: the same message ids as ``web/common.countdown``, their fields filled in by the script."""
    return {"page_texts": {"expired": i18n.translate("EXPIRED"), "hours_left": i18n.translate("{hours} h {minutes:02d} min left"),
                           "minutes_left": i18n.translate("{minutes} min left")}}


def register(app: Flask) -> None:
    Babel(app, locale_selector=language, timezone_selector=_time_zone)
    # Flask-Babel installed its own callables; ours read the same .po files (no compiled .mo) and the same
    # current language as the refusals made in the services (newstyle: Jinja fills %(name)s and escapes)
    app.jinja_env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)  # type: ignore[attr-defined]
    # the same callables without Jinja's extra calls through the template context (three for each `_()`: issue 18)
    app.jinja_env.globals.update(gettext=_newstyle_gettext, _=_newstyle_gettext, ngettext=_newstyle_ngettext)
    # a {% trans %} block's text with its line breaks and indentation folded, as pybabel extracts it (babel.cfg)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.add_template_filter(i18n.now, "t")
    from pharmacy.domain.permissions import role_name

    app.add_template_filter(role_name, "role")  # a role code shown as the reader's word for it
    app.context_processor(_page_texts)
    app.jinja_env.globals.update(LANGUAGES=i18n.LANGUAGES, current_language=i18n.current)
    # after the guard has loaded the user (register_security runs first): the language is the user's
    app.before_request(_set_language)
    app.teardown_request(_reset_language)
