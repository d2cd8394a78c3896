"""Error pages in the reader's language (instead of the server's English defaults)."""
from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. If you sent a form, go back and try again.")),
    403: (_l("Not allowed"), _l("Your account does not have access to this page.")),
    404: (_l("Page not found"), _l("There is no page at this address. It may have moved or been retired.")),
    405: (_l("Not allowed"), _l("This address does not accept that kind of request.")),
    410: (_l("No longer available"), _l("This file is missing from storage. Please tell a mentor or an administrator.")),
    413: (_l("Too large"), _l("What you sent is larger than the limit. Please send smaller files.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
    500: (_l("Something went wrong"), _l("An unexpected error happened. Nothing you saved was lost; please try again.")),
}


def _render(code: int, detail=None):
    title, text = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        return _render(400, _l("The form expired or was sent from another page. Reload the page and try again."))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
        return _render(413, _l("What you sent is larger than the limit of %(mb)d MB, so nothing was saved. "
                               "Please send smaller files, or put large work in a repository and hand in its link.",
                               mb=limit))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        response = _render(error.code)
        if error.code == 405 and error.valid_methods:
            return response[0], 405, {"Allow": ", ".join(error.valid_methods)}
        return response

    @app.errorhandler(500)
    def _server_error(error):
        return _render(500)
