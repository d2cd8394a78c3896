"""Students' own pages: enrolling, the dashboard ("My courses") and lesson progress."""
from flask import Blueprint

bp = Blueprint("learn", __name__)

from . import routes  # noqa: E402,F401
