"""Auditors, mentors and admins review content: version history, diffs, sign-offs and reports."""
from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")

from . import routes  # noqa: E402,F401
