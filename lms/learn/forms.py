"""One-button forms (they carry the CSRF token)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField


class EnrollForm(FlaskForm):
    submit = SubmitField(_l("Enroll for free"))


class CompleteForm(FlaskForm):
    submit = SubmitField(_l("Mark as complete"))


class UndoCompleteForm(FlaskForm):
    submit = SubmitField(_l("Mark as not complete"))
