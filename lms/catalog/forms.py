"""Forms of the public pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, SubmitField


class LanguageForm(FlaskForm):
    """Switch the interface language (kept in the session, and on the account when signed in)."""

    lang = SelectField(_l("Language"), choices=[("zh_CN", "中文"), ("en", "English")])
    next = HiddenField()
    submit = SubmitField(_l("Switch"))
