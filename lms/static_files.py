"""Static files under content-hashed names, cached for a year, served gzip-compressed.

At start-up every file under ``lms/static`` is read once: its SHA-256 names it
(``lms.css`` -> ``lms.3f2a9c1b04de.css``) and a gzip copy is kept in memory when it is
smaller. ``url_for('static', filename='lms.css')`` builds the hashed URL by itself, so
templates need nothing special, and a file added later (for example ``editor.js``) is covered
without any list to update.

* ``/static/lms.<current hash>.css``: ``Cache-Control: public, max-age=31536000, immutable``.
  A new version of the file has a new URL, so browsers never need to ask again.
* ``/static/lms.css``, or an old or unknown hash (a page from the previous release, or from
  another app server still running it): the current file with ``Cache-Control: no-cache``,
  so it is revalidated with its ETag (304) on every use and replaced once the release is out.
* Gzip when the request's ``Accept-Encoding`` allows it (each encoding its own ETag), always
  with ``Vary: Accept-Encoding``.
* A WSGI middleware answers these requests before Flask: no session is touched, so there is
  no ``Vary: Cookie``, which would make browsers fetch a year-cached file again after every
  sign-in. The security headers of every response are added all the same.

With ``app.debug`` (``flask run --debug``) files are re-read when they change on disk.
Why not WhiteNoise: it does not fingerprint names outside Django, and it compresses only files
written beforehand into the folder it serves; for a handful of small files this module keeps
everything in memory and needs no build step and no extra dependency.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, current_app
from flask import request as flask_request
from werkzeug.wrappers import Request, Response

from . import security

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
HASH_LENGTH = 12
_FINGERPRINTED = re.compile(rf"^(?P<stem>.+?)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[A-Za-z0-9]+)?$")
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")
MIN_GAIN = 0.9  # keep a gzip copy only if it is at most 90% of the original

mimetypes.add_type("text/javascript", ".js")  # the registered type (RFC 9239), not the OS's guess
mimetypes.add_type("image/svg+xml", ".svg")


@dataclass(frozen=True)
class StaticFile:
    """One file of the static folder, read into memory with its gzip copy and hashes."""

    name: str  # relative to the folder, with '/' separators
    data: bytes
    gzipped: bytes | None
    digest: str  # SHA-256 of data, hex
    mimetype: str
    stat: tuple[int, int]  # (mtime_ns, size) when read

    @property
    def url_name(self) -> str:
        """The name with its content hash: ``css/lms.css`` -> ``css/lms.<hash>.css``."""
        folder, _, base = self.name.rpartition("/")
        stem, dot, ext = base.rpartition(".")
        hashed = f"{stem}.{self.digest[:HASH_LENGTH]}.{ext}" if dot and stem else f"{base}.{self.digest[:HASH_LENGTH]}"
        return f"{folder}/{hashed}" if folder else hashed


def _read(path: Path, name: str) -> StaticFile:
    stat = path.stat()
    data = path.read_bytes()
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    gzipped = None
    if mimetype.startswith(COMPRESSIBLE):
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(packed) <= MIN_GAIN * len(data):
            gzipped = packed
    return StaticFile(name=name, data=data, gzipped=gzipped, digest=hashlib.sha256(data).hexdigest(),
                      mimetype=mimetype, stat=(stat.st_mtime_ns, stat.st_size))


# Files already read by this process, by absolute path: apps made one after another (tests)
# share them as long as the file on disk did not change.
_cache: dict[str, StaticFile] = {}


def _load(path: Path, name: str) -> StaticFile:
    stat = path.stat()
    known = _cache.get(str(path))
    if known is None or known.stat != (stat.st_mtime_ns, stat.st_size):
        known = _cache[str(path)] = _read(path, name)
    return known


class StaticFiles:
    """The static folder's files by name and by hashed name."""

    def __init__(self, folder: str | os.PathLike, app: Flask | None = None):
        self.folder = Path(folder)
        self.app = app
        self.files: dict[str, StaticFile] = {}
        self.scan()

    def scan(self) -> None:
        """(Re-)read the folder; hidden files and folders are left out."""
        files = {}
        if self.folder.is_dir():
            for dirpath, dirnames, filenames in os.walk(self.folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for filename in sorted(filenames):
                    if filename.startswith("."):
                        continue
                    path = Path(dirpath) / filename
                    name = path.relative_to(self.folder).as_posix()
                    files[name] = _load(path, name)
        self.files = files

    @property
    def digest(self) -> str:
        """One hash over every file's name and content: changes whenever any URL changes."""
        summary = "\n".join(f"{name} {f.digest}" for name, f in sorted(self.files.items()))
        return hashlib.sha256(summary.encode()).hexdigest()

    def _fresh(self, name: str) -> StaticFile | None:
        """The file, re-read first if it changed on disk (debug mode only)."""
        if self.app is not None and self.app.debug:
            path = self.folder / name
            known = self.files.get(name)
            try:
                stat = path.stat()
                changed = known is None or known.stat != (stat.st_mtime_ns, stat.st_size)
            except OSError:
                changed = known is not None
            if changed:
                self.scan()
        return self.files.get(name)

    def url_name(self, name: str) -> str:
        found = self._fresh(name)
        return found.url_name if found else name

    def lookup(self, requested: str) -> tuple[StaticFile | None, bool]:
        """The file a requested name means, and whether the name carries its current hash."""
        if requested.startswith("/") or "\\" in requested or ".." in requested.split("/"):
            return None, False
        found = self._fresh(requested)
        if found is not None:
            return found, False
        match = _FINGERPRINTED.match(requested)
        if match is None:
            return None, False
        found = self._fresh(match["stem"] + (match["ext"] or ""))
        if found is None:
            return None, False
        return found, match["hash"] == found.digest[:HASH_LENGTH]

    def response(self, request: Request, requested: str) -> Response | None:
        """The file (gzip if accepted) with its caching headers, or 304; None if there is none."""
        static, immutable = self.lookup(requested)
        if static is None:
            return None
        gz = static.gzipped is not None and request.accept_encodings["gzip"] > 0
        response = Response(static.gzipped if gz else static.data, mimetype=static.mimetype)
        if gz:
            response.headers["Content-Encoding"] = "gzip"
        if static.gzipped is not None:
            response.vary.add("Accept-Encoding")
        response.set_etag(static.digest[:32] + ("-gz" if gz else ""))
        response.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
        return response.make_conditional(request)


class StaticMiddleware:
    """Answers GET and HEAD under the static URL path before Flask's request handling.

    Outside Flask, no session is touched, so no ``Vary: Cookie`` (which would make browsers
    fetch a year-cached file again after every sign-in) and no per-request overhead; the
    security headers of every response are still added.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self.prefix = app.static_url_path.rstrip("/") + "/"
        self.production = app.config.get("LMS_ENV") == "production"

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.prefix) and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            response = self.app.extensions["lms_static"].response(Request(environ), path[len(self.prefix):])
            if response is not None:
                return security.harden(response, self.production)(environ, start_response)
        return self.wsgi_app(environ, start_response)  # everything else, and the app's 404 page


def serve(filename: str) -> Response:
    """The ``static`` endpoint's view, for requests that reach Flask (the middleware answers
    GET and HEAD first)."""
    response = current_app.extensions["lms_static"].response(flask_request, filename)
    if response is None:
        abort(404)
    return response


def _hashed_urls(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "filename" in values:
        values["filename"] = current_app.extensions["lms_static"].url_name(values["filename"])


def init_app(app: Flask) -> None:
    """Read the static folder, serve it, and make ``url_for('static', ...)`` build hashed URLs."""
    if not app.has_static_folder:
        return
    app.extensions["lms_static"] = StaticFiles(app.static_folder, app)
    app.view_functions["static"] = serve
    app.url_defaults(_hashed_urls)
    app.wsgi_app = StaticMiddleware(app, app.wsgi_app)
