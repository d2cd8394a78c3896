"""Template helpers: dates in the reader's time zone, language names, the current path."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, request
from flask_babel import LazyString, format_datetime, format_decimal, get_locale

from .i18n import LANGUAGE_NAMES


def localtime(value: datetime | None, format: str = "medium") -> str:
    """A UTC timestamp shown in the reader's time zone, in the reader's language."""
    if value is None:
        return ""
    return format_datetime(value, format)


def num(value) -> str:
    """A score or point value without needless decimals: 100, 7.5."""
    if value is None:
        return ""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def filesize(size: int | None) -> str:
    """A byte count for people: 812 B, 3.4 MB (powers of 1024), in the reader's number format."""
    if size is None:
        return ""
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{format_decimal(round(value, 1))} {unit}"


def fromiso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _finalize(value):
    """Print lazy translations as text. flask_babel's LazyString has ``__html__``, so Jinja would
    trust it as markup, and a lazy message naming a user's file or input would become HTML."""
    return str(value) if isinstance(value, LazyString) else value


def init_app(app: Flask) -> None:
    app.jinja_env.finalize = _finalize
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["iso"] = iso
    app.jinja_env.filters["num"] = num
    app.jinja_env.filters["fromiso"] = fromiso
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals() -> dict:
        locale = get_locale()
        return {
            "current_locale": str(locale) if locale else "zh_CN",
            "html_lang": "zh-CN" if str(locale).startswith("zh") else "en",
            "language_names": LANGUAGE_NAMES,
            "current_path": request.full_path.rstrip("?") if request else "/",
        }
