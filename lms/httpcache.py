"""HTTP caching of the public pages: rendered once, revalidated by ETag, never stale.

The public pages (catalog, course, lesson, assignment brief, cases) look the same to every
anonymous visitor who reads them in the same language and time zone, except for the CSRF token
of the language switch. So each worker process keeps the pages it rendered for anonymous
visitors, with the token cut out, in a bounded LRU cache (``PageCache``, ``LMS_PAGE_CACHE_MB``
per process); the next anonymous request for the same URL is answered from it, with the
visitor's own token put back, without a query or a template.

**Never stale.** Every committed write to a table that public pages show (courses, lessons,
assignments, cases, assets, versions, mentors' names) clears the cache of the process that made
it and replaces a marker file in the instance folder; every request compares the marker's
``stat`` and clears the process's cache when it changed, so the other workers and a
``flask content sync`` in another process are seen at the next request. Servers on other
machines, which do not share the instance folder, re-render a page at most
``LMS_PAGE_CACHE_SECONDS`` after they cached it. The key holds the URL, the language, the time
zone and the release, so none of them can mix.

**ETags.** Such a page carries a weak ETag over the cached body, the release, and the visitor's
CSRF session token with the current half of the CSRF time limit (a page kept by the browser must
not outlive its token); a request that sends it back gets ``304 Not Modified``.

Pages with a pending flash message, signed-in users' pages (they show the user's own
enrollment, progress and grades) and debug mode are neither cached nor given an ETag. Every page
here is ``Cache-Control: private, no-cache``: a browser may keep it but must ask before using it
again, and shared caches must not keep it (it holds a session-bound token).
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from flask import Flask, Response, current_app, has_app_context, make_response, request, session
from flask_login import current_user
from werkzeug.http import HTTP_STATUS_CODES

from .i18n import may_be_signed_in, visitor_locale, visitor_timezone

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


def _csrf_binding(app: Flask, sess) -> list | None:
    """The session's CSRF secret (hashed) and the time bucket its tokens stay valid in."""
    config = app.config
    if not config.get("WTF_CSRF_ENABLED", True):
        return None
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    secret = str(sess.get(field, ""))
    limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
    bucket = int(time.time() // max(1, limit // 2)) if limit else 0
    return [hashlib.sha256(secret.encode()).hexdigest(), bucket]


# Tables whose rows the public pages show; a committed write to one of them clears the cache.
PUBLIC_TABLES = frozenset({"courses", "lessons", "assignments", "cases", "course_cases", "lesson_cases",
                           "course_mentors", "assets", "asset_blobs", "content_versions", "users"})
# Of the users table, pages show the mentors' names (looked up by e-mail): sign-ins do not count.
_USER_COLUMNS = re.compile(r"\b(name|email)\b")
_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?(.*?)(?:\bWHERE\b|$)',
                    re.IGNORECASE | re.DOTALL)
_writes = threading.local()


def _note_write(conn, cursor, statement, parameters, context, executemany) -> None:
    """Engine hook: remember that this thread wrote to a table that public pages show."""
    if statement[:1] in "SsWw" or statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA", "SAVEPO", "RELEAS"):
        return
    match = _WRITE.match(statement)
    if match is None:
        return
    table = match.group(1).lower()
    if table in PUBLIC_TABLES and (table != "users" or not statement.lstrip().upper().startswith("UPDATE")
                                   or _USER_COLUMNS.search(match.group(2))):
        _writes.public = True


def _after_commit(db_session) -> None:
    """Session hook: a commit that wrote public rows clears the page caches (after the commit,
    so that no page can be rendered from the old rows and cached as current)."""
    if getattr(_writes, "public", False):
        _writes.public = False
        cache = current_app.extensions.get("lms_page_cache") if has_app_context() else None
        if cache is not None:
            cache.invalidate()


@dataclass
class Entry:
    parts: list[bytes]  # the body, cut at the CSRF token
    status: int
    headers: list[tuple[str, str]]  # all but the ETag: see _entry_headers
    digest: str  # of the body without the token and of the release: the ETag's base
    stamp: object  # the marker's state the page was rendered under
    stored_at: float
    size: int


class PageCache:
    """The public pages of one process as anonymous visitors see them (see the module's text)."""

    def __init__(self, marker: Path, max_bytes: int, max_age: float):
        self.marker, self.max_bytes, self.max_age = marker, max_bytes, max_age
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._paths: dict[str, int] = {}  # how many entries each path has (the middleware's first check)
        self._size = 0
        self._lock = threading.Lock()
        self._stamp = self._read_stamp()

    def _read_stamp(self) -> object:
        try:
            st = os.stat(self.marker)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def stamp(self) -> object:
        """The marker's current state; a change since the last look empties this process's cache."""
        current = self._read_stamp()
        if current != self._stamp:
            with self._lock:
                self._clear()
                self._stamp = current
        return current

    def invalidate(self) -> None:
        """Empty this cache and tell the other processes, by replacing the marker file."""
        with self._lock:
            self._clear()
        try:
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.marker.parent, prefix=".page-cache-")
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{time.time_ns()} {os.getpid()}\n")
            os.replace(tmp, self.marker)
        except OSError:  # this process's cache is empty; the others re-render after LMS_PAGE_CACHE_SECONDS
            current_app.logger.warning("page cache: could not replace %s", self.marker, exc_info=True)
        self.stamp()

    def get(self, key: tuple, stamp: object) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.stamp != stamp or time.monotonic() - entry.stored_at > self.max_age:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if entry.size > self.max_bytes // 4:
            return
        with self._lock:
            if entry.stamp != self._stamp:
                return  # the content changed while this page was rendered
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._paths[key[0]] = self._paths.get(key[0], 0) + 1
            self._size += entry.size
            while self._size > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple) -> None:
        self._size -= self._entries.pop(key).size
        left = self._paths.pop(key[0]) - 1
        if left:
            self._paths[key[0]] = left

    def _clear(self) -> None:
        self._entries.clear()
        self._paths.clear()
        self._size = 0

    def has_path(self, path: str) -> bool:
        return path in self._paths

    def __len__(self) -> int:
        return len(self._entries)


def _cache_key(app: Flask, req, sess) -> tuple | None:
    """What an anonymous visitor's page depends on, or None when this request's page must not be
    cached. The caller has made sure the visitor is not signed in; the language and time zone are
    theirs as ``i18n.visitor_locale`` and ``i18n.visitor_timezone`` choose them for the page's
    rendering."""
    if req.method not in ("GET", "HEAD") or app.debug or sess.get("_flashes"):
        return None
    return (req.path, req.query_string, visitor_locale(app.config, req.environ, sess), visitor_timezone(app.config),
            app.extensions["lms_build"])


def _page_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    response.vary.update(("Cookie", "Accept-Language"))
    return response


def _entry_headers(response: Response) -> list[tuple[str, str]]:
    """The headers a cached page is answered with, made once when it is cached: its type and
    language, the cache headers of ``_page_headers`` and the security headers of every response
    (``security.harden``); each answer adds only its ETag (and Flask its session cookie)."""
    from .security import harden

    kept = current_app.response_class(headers=[(name, value) for name, value in response.headers.items()
                                               if name.lower() in ("content-type", "content-language")])
    harden(_page_headers(kept), current_app.config.get("LMS_ENV") == "production")
    return list(kept.headers.items())


def _token_and_etag(app: Flask, sess, entry: Entry) -> tuple[bytes, str]:
    """This visitor's CSRF token for the page and the page's ETag for them."""
    from flask_wtf.csrf import generate_csrf

    token = generate_csrf().encode()  # also puts the session's secret in place for the binding
    return token, 'W/"%s"' % hashlib.sha256(f"{entry.digest} {_csrf_binding(app, sess)}".encode()).hexdigest()[:40]


def _not_modified(req, etag: str) -> bool:
    return "HTTP_IF_NONE_MATCH" in req.environ and req.if_none_match.contains_weak(etag[3:-1])


def _answer(entry: Entry) -> Response:
    """The cached page with this visitor's CSRF token, or 304 when their copy is current."""
    token, etag = _token_and_etag(current_app, session, entry)
    headers = entry.headers + [("ETag", etag)]
    if _not_modified(request, etag):
        return current_app.response_class(status=304, headers=headers)
    return current_app.response_class(token.join(entry.parts), status=entry.status, headers=headers)


def public_page(view: Callable) -> Callable:
    """Serve a public view's page to anonymous visitors from the page cache (see the module's text)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        app = current_app._get_current_object()
        cache: PageCache | None = app.extensions.get("lms_page_cache")
        key = None
        if cache is not None and not (may_be_signed_in() and getattr(current_user, "is_authenticated", False)):
            key = _cache_key(app, request, session)
        if key is None:
            return _page_headers(make_response(view(*args, **kwargs)))
        stamp = cache.stamp()  # before the view reads anything
        entry = cache.get(key, stamp)
        if entry is None:
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200 or response.is_streamed or "Set-Cookie" in response.headers \
                    or session.get("_flashes"):
                return _page_headers(response)
            from flask_wtf.csrf import generate_csrf

            body = response.get_data()
            parts = body.split(generate_csrf().encode())
            digest = hashlib.sha256(b"\0".join(parts) + current_app.extensions["lms_build"].encode()).hexdigest()
            entry = Entry(parts, response.status_code, _entry_headers(response), digest, stamp, time.monotonic(),
                          len(body))
            cache.put(key, entry)
        return _answer(entry)

    return wrapper


class PageMiddleware:
    """Answers an anonymous visitor's GET of a cached public page before Flask dispatches it.

    The request context is pushed as usual (the session is opened, the URL matched), and the
    answer is made by the same functions as in ``public_page``: the visitor's language and time
    zone pick the cache entry (``_cache_key``), Flask-WTF makes their CSRF token, Flask saves
    their session. The page goes to the server with the headers kept with it (the security
    headers among them), its ETag, length and cookie. What is skipped is the work a cached page
    does not need: the view, its queries and its template, the request hooks, and a Response
    object. Any request this cannot answer (not cached, perhaps signed in, a flash waiting, a
    remember-me cookie to update) goes on to Flask unchanged.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        app = self.app
        cache: PageCache | None = app.extensions.get("lms_page_cache")
        if cache is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD") \
                or not cache.has_path(environ.get("PATH_INFO", "")):
            return self.wsgi_app(environ, start_response)
        with app.request_context(environ) as ctx:
            req, sess = ctx.request, ctx.session
            key = None if "_remember" in sess or may_be_signed_in(req, sess) else _cache_key(app, req, sess)
            entry = cache.get(key, cache.stamp()) if key is not None else None
            if entry is not None:
                token, etag = _token_and_etag(app, sess, entry)
                headers = entry.headers + [("ETag", etag)]
                if _not_modified(req, etag):
                    response = app.response_class(status=304, headers=headers)
                    self._save_session(sess, response)
                    return response(environ, start_response)
                # The 200 goes straight to the server: its headers were checked when the page was
                # cached (``_entry_headers``), so it needs no Response object of its own.
                body = token.join(entry.parts)
                headers.append(("Content-Length", str(len(body))))
                headers.extend(self._save_session(sess, app.response_class()))
                start_response(f"{entry.status} {HTTP_STATUS_CODES[entry.status]}", headers)
                return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        return self.wsgi_app(environ, start_response)

    def _save_session(self, sess, response: Response) -> list[tuple[str, str]]:
        """Flask saves the session into ``response``; its Set-Cookie headers. (Flask also adds
        ``Vary: Cookie``, which every cached page carries already.)"""
        interface = self.app.session_interface
        if interface.is_null_session(sess):
            return []
        interface.save_session(self.app, sess, response)
        return [("Set-Cookie", value) for value in response.headers.getlist("Set-Cookie")]


def init_app(app: Flask) -> None:
    """Compute the build's hash once (after lms.static_files, whose URLs it covers); set up the cache."""
    static = app.extensions.get("lms_static")
    app.extensions["lms_build"] = hashlib.sha256(
        (build_id() + (static.digest if static else "")).encode()).hexdigest()
    megabytes = float(app.config.get("LMS_PAGE_CACHE_MB", 64))
    if megabytes > 0:
        app.extensions["lms_page_cache"] = PageCache(Path(app.instance_path) / "page-cache-generation",
                                                     int(megabytes * 1024 * 1024),
                                                     float(app.config.get("LMS_PAGE_CACHE_SECONDS", 60)))
        app.wsgi_app = PageMiddleware(app, app.wsgi_app)
    global _hooked
    if not _hooked:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.orm import Session

        event.listen(Engine, "before_cursor_execute", _note_write)
        event.listen(Session, "after_commit", _after_commit)
        _hooked = True


_hooked = False
