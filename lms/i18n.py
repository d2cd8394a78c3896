"""Language and time zone selection (Flask-Babel)."""
from __future__ import annotations

import functools
import os

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user

from .extensions import babel

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def terminal_locale() -> str:
    """zh_CN when the terminal's locale (LC_ALL, LC_MESSAGES, LANG) is Chinese, else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    return "en"


def may_be_signed_in() -> bool:
    """False when this request certainly comes from an anonymous visitor: no signed-in user in
    the session and no remember-me cookie, the only two ways Flask-Login signs a visitor in here.
    Spares loading the user on the pages anonymous visitors read most."""
    return "_user_id" in session or current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def select_locale() -> str:
    """The user's own setting, else the language chosen on this browser, else Accept-Language, else zh_CN."""
    languages = current_app.config["LMS_LANGUAGES"]
    if not has_request_context():  # CLI commands: the terminal's language
        return terminal_locale()
    if may_be_signed_in() and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    # Accept-Language uses zh-CN / zh; our catalog is zh_CN.
    offered = {"zh_CN": "zh_CN", "zh-CN": "zh_CN", "zh": "zh_CN", "en": "en"}
    best = request.accept_languages.best_match(list(offered)) if request else None
    return offered.get(best, current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone() -> str:
    """The user's time zone, else the park's (Asia/Shanghai)."""
    if has_request_context() and may_be_signed_in() and getattr(current_user, "is_authenticated", False) \
            and current_user.timezone:
        return current_user.timezone
    return current_app.config["LMS_TIMEZONE"]


@functools.lru_cache(maxsize=64)
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def _selected_locale() -> Locale:
    """select_locale's choice, parsed once per process (Flask-Babel would parse it on every request)."""
    return _parsed(select_locale())


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_selected_locale, timezone_selector=select_timezone,
                   default_translation_directories="translations")
