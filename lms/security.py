"""Security headers on every response; the signed session cookie."""
from __future__ import annotations

from flask import Flask, Response
from flask.sessions import SecureCookieSessionInterface

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


DEFAULT_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
]


def _headers(response: Response) -> Response:
    """Add each default header the response does not set itself (an asset sets its own CSP)."""
    present = {name.lower() for name, _value in response.headers.items()}
    for name, value in DEFAULT_HEADERS:
        if name.lower() not in present:
            response.headers.add(name, value)
    return response


HSTS = "max-age=31536000; includeSubDomains"


def harden(response: Response, production: bool) -> Response:
    """Add the headers of every response (for responses made outside Flask's request handling)."""
    _headers(response)
    if production:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with its serializer made once per secret key.

    Flask builds a new serializer (and signer) twice on every request, to read and to write the
    cookie; the cookie's format, keys, salt and signature stay exactly Flask's.
    """

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_serializer", None)
        if cached is None or cached[0] != key:
            cached = (key, super().get_signing_serializer(app))
            self._serializer = cached
        return cached[1]


def init_app(app: Flask) -> None:
    """Send the CSP and the usual hardening headers; HSTS in production; the session cookie."""
    app.session_interface = SessionInterface()
    app.after_request(_headers)
    if app.config.get("LMS_ENV") == "production":
        @app.after_request
        def _hsts(response: Response) -> Response:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            return response
