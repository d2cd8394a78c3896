"""Forms of the public pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired


class LanguageForm(FlaskForm):
    """Switch the interface language (kept in the session, and on the account when signed in)."""

    lang = StringField(_l("Language"), validators=[DataRequired(), AnyOf(["zh_CN", "en"])])
    next = HiddenField()
