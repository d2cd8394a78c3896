"""HTTP caching of the public pages: ETags for anonymous visitors, never a stale page.

A public page (catalog, course, lesson, assignment brief, cases) seen by an anonymous visitor
gets a weak ETag, and a request carrying it back in ``If-None-Match`` is answered ``304 Not
Modified`` without rendering the template. The ETag is a hash of everything the page is made
of:

* the rows shown on it (id, content hash, ``updated_at``, ``retired_at``: the sync changes
  ``updated_at`` of every item it touches) and any other value the view passes;
* the build: the application's version and every file of the ``lms`` package (code,
  templates, translations, static files, so also the hashed static URLs in the page);
* the visitor's language and time zone, and the URL;
* the visitor's CSRF session token and the current half of the CSRF time limit: every page
  carries a CSRF token (the language switch) that is bound to the session and expires, so a
  page kept by the browser must not outlive its token.

Pages with a pending flash message get no ETag. Signed-in users get no ETag at all: their
pages show their own state (enrollment, progress, grades) and are always rendered afresh.
Every page here is ``Cache-Control: private, no-cache``: a browser may keep it but must ask
before using it again, and shared caches must not keep it (it holds a session-bound token).
"""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from flask import Flask, Response, current_app, make_response, request, session
from flask_babel import get_locale, get_timezone
from flask_login import current_user

PAGE_CACHE_CONTROL = "private, no-cache"
_PACKAGE = Path(__file__).resolve().parent
_BUILD_SUFFIXES = {".py", ".html", ".mo", ".css", ".js", ".svg", ".json", ".txt"}
_builds: dict[tuple, str] = {}


def build_id(package: Path = _PACKAGE) -> str:
    """A hash of the application's version and of every file of its package.

    Any deployment that changes what a page looks like (code, template, translation, static
    file) changes it; restarting the same release does not. Cached per process by the files'
    sizes and modification times.
    """
    paths = sorted(p for p in package.rglob("*")
                   if p.suffix in _BUILD_SUFFIXES and "__pycache__" not in p.parts and p.is_file())
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key not in _builds:
        digest = hashlib.sha256()
        try:
            digest.update(metadata.version("lms").encode())
        except metadata.PackageNotFoundError:
            pass
        for path in paths:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        _builds[key] = digest.hexdigest()
    return _builds[key]


def row_stamp(obj) -> object:
    """What identifies the version of a content row (Course, Lesson, Case, ...) on a page."""
    if not hasattr(obj, "__table__"):
        return obj
    return [obj.__table__.name, obj.id, getattr(obj, "content_hash", None),
            getattr(obj, "updated_at", None), getattr(obj, "retired_at", None)]


def _json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__table__"):
        return row_stamp(value)
    return str(value)


def _csrf_binding() -> list | None:
    """The session's CSRF secret (hashed) and the time bucket its tokens stay valid in."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    from flask_wtf.csrf import generate_csrf

    generate_csrf()  # puts the session's secret in place before the page (and its ETag) use it
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    secret = str(session.get(field, ""))
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    bucket = int(time.time() // max(1, limit // 2)) if limit else 0
    return [hashlib.sha256(secret.encode()).hexdigest(), bucket]


def page_etag(parts: Iterable) -> str | None:
    """The validator of this request's page, or None when it must not have one."""
    if current_app.debug or getattr(current_user, "is_authenticated", False) or session.get("_flashes"):
        return None
    payload = [current_app.extensions["lms_build"], str(get_locale()), str(get_timezone()), request.full_path,
               _csrf_binding(), [row_stamp(part) for part in parts]]
    return hashlib.sha256(json.dumps(payload, default=_json, sort_keys=True).encode()).hexdigest()[:40]


def cached_page(parts: Iterable, render: Callable[[], str]) -> Response:
    """Answer 304 if the visitor's copy is current, else render; with the caching headers."""
    etag = page_etag(parts)
    if etag is not None and request.method in ("GET", "HEAD") and request.if_none_match.contains_weak(etag):
        response = current_app.response_class(status=304)
    else:
        response = make_response(render())
    if etag is not None:
        response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    response.vary.update(("Cookie", "Accept-Language"))
    return response


def init_app(app: Flask) -> None:
    """Compute the build's hash once (after lms.static_files, whose URLs it covers)."""
    static = app.extensions.get("lms_static")
    app.extensions["lms_build"] = hashlib.sha256(
        (build_id() + (static.digest if static else "")).encode()).hexdigest()
