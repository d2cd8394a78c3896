"""Language and time zone selection (Flask-Babel)."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user

from .extensions import babel

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def select_locale() -> str:
    """The user's own setting, else the language chosen on this browser, else Accept-Language, else zh_CN."""
    languages = current_app.config["LMS_LANGUAGES"]
    if not has_request_context():  # CLI commands and background work
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
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
    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False) and current_user.timezone:
        return current_user.timezone
    return current_app.config["LMS_TIMEZONE"]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories="translations")
