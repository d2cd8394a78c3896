"""Mentors grade: the queue, grading an attempt, regrades, extensions, gradebook and exports."""
from flask import Blueprint

bp = Blueprint("grade", __name__, url_prefix="/grading")

from . import routes  # noqa: E402,F401
