"""Students hand in work and read their grades; attempt files are downloaded through here."""
from flask import Blueprint

bp = Blueprint("submit", __name__)

from . import routes  # noqa: E402,F401
