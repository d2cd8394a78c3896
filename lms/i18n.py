"""Language and time zone selection (Flask-Babel)."""
from __future__ import annotations

import functools
import os

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale, get_timezone, get_translations
from flask_login import current_user
from pytz import timezone

from .extensions import babel

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def terminal_locale() -> str:
    """zh_CN when the terminal's locale (LC_ALL, LC_MESSAGES, LANG) is Chinese, else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    return "en"


def may_be_signed_in(req=None, sess=None) -> bool:
    """False when this request certainly comes from an anonymous visitor: no signed-in user in
    the session and no remember-me cookie, the only two ways Flask-Login signs a visitor in here.
    Spares loading the user on the pages anonymous visitors read most. ``req`` and ``sess``
    default to this context's request and session."""
    req = request if req is None else req
    if "_user_id" in (session if sess is None else sess):
        return True
    return "HTTP_COOKIE" in req.environ and current_app.config.get(
        "REMEMBER_COOKIE_NAME", "remember_token") in req.cookies


# Accept-Language uses zh-CN / zh; our catalog is zh_CN.
_OFFERED = {"zh_CN": "zh_CN", "zh-CN": "zh_CN", "zh": "zh_CN", "en": "en"}


@functools.lru_cache(maxsize=512)
def _accepted(header: str) -> str | None:
    """The best of our languages for an Accept-Language header. Browsers send a handful of
    distinct values, so each is parsed once per process rather than on every request."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    return _OFFERED.get(parse_accept_header(header, LanguageAccept).best_match(list(_OFFERED)))


def visitor_locale(config, environ, sess) -> str:
    """The language of a visitor who is not signed in: the one chosen on this browser, else the
    best match of Accept-Language, else zh_CN. The page cache keys anonymous visitors' pages by it
    (``lms.httpcache``), so pages are cached in exactly the language they were rendered in."""
    chosen = sess.get("lang")
    if chosen in config["LMS_LANGUAGES"]:
        return chosen
    return _accepted(environ.get("HTTP_ACCEPT_LANGUAGE", "")[:1000]) or config["BABEL_DEFAULT_LOCALE"]


def select_locale() -> str:
    """The user's own setting, else the language chosen on this browser, else Accept-Language, else zh_CN."""
    if not has_request_context():  # CLI commands: the terminal's language
        return terminal_locale()
    config = current_app.config
    if may_be_signed_in() and getattr(current_user, "is_authenticated", False) \
            and current_user.locale in config["LMS_LANGUAGES"]:
        return current_user.locale
    return visitor_locale(config, request.environ, session)


def visitor_timezone(config) -> str:
    """The time zone of a visitor who is not signed in: the park's (``LMS_TIMEZONE``). Like
    ``visitor_locale``, part of the page cache's key."""
    return config["LMS_TIMEZONE"]


def select_timezone() -> str:
    """The user's time zone, else the park's (Asia/Shanghai)."""
    if has_request_context() and may_be_signed_in() and getattr(current_user, "is_authenticated", False) \
            and current_user.timezone:
        return current_user.timezone
    return visitor_timezone(current_app.config)


@functools.lru_cache(maxsize=64)
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def _selected_locale() -> Locale:
    """select_locale's choice, parsed once per process (Flask-Babel would parse it on every request)."""
    return _parsed(select_locale())


@functools.lru_cache(maxsize=64)
def _zone(name: str):
    return timezone(name)  # pytz, as Flask-Babel uses


def _selected_timezone():
    """select_timezone's choice, looked up once per process and zone."""
    return _zone(select_timezone())


def current() -> tuple[NullTranslations, Locale | None, object]:
    """This context's (translations, locale, time zone), asked of Flask-Babel once per context.

    Flask-Babel looks all three up again on every message and date, each time through several
    context-local proxies: about 20 µs per message, which made a gradebook of 300 cells spend
    more time translating its labels than reading its data. The locale is chosen once per
    request here (the app never calls ``flask_babel.refresh`` or ``force_locale``), so what
    Flask-Babel answers first stays true for the whole context, as its own locale cache does.
    """
    try:
        return g._lms_i18n
    except AttributeError:
        state = g._lms_i18n = (get_translations(), get_locale(), get_timezone())
        return state
    except RuntimeError:  # no app context
        return get_translations(), get_locale(), get_timezone()


@functools.lru_cache(maxsize=16)
def _wtforms_messages(locale: Locale | None) -> NullTranslations:
    from babel import support
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """WTForms' own messages ("Not a valid integer value.") in the request's language.

    Flask-WTF reads WTForms' catalog from disk on every request that makes a form, unless the
    request already holds one as ``request.wtforms_translations``; this one is loaded once per
    process and language, on first use.
    """

    def ugettext(self, string: str) -> str:
        return _wtforms_messages(current()[1]).ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_messages(current()[1]).ungettext(singular, plural, n)


_WTFORMS_MESSAGES = _WTFormsMessages()


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_selected_locale, timezone_selector=_selected_timezone,
                   default_translation_directories="translations")
    # The templates' _(), gettext() and ngettext() through current(); Jinja's newstyle wrapper
    # (autoescaping, %-formatting) stays Jinja's.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: current()[0].ugettext(s),
        ngettext=lambda s, p, n: current()[0].ungettext(s, p, n),
        pgettext=lambda c, s: current()[0].upgettext(c, s),
        npgettext=lambda c, s, p, n: current()[0].unpgettext(c, s, p, n),
        newstyle=True)

    @app.before_request
    def _wtforms_messages_once() -> None:
        request.wtforms_translations = _WTFORMS_MESSAGES
