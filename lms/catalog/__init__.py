"""Public pages: the catalog, courses, lessons, assignment briefs, enterprise cases, assets."""
from flask import Blueprint

bp = Blueprint("catalog", __name__)

from . import routes  # noqa: E402,F401
