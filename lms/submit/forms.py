"""The submission form and the regrade request form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, SubmitField, TextAreaField, URLField
from wtforms.validators import DataRequired, InputRequired


class SubmitForm(FlaskForm):
    files = MultipleFileField(_l("Files"))
    repo_url = URLField(_l("Repository link"), description=_l("For example https://gitee.com/you/project"))
    text = TextAreaField(_l("Written answer"), description=_l("Markdown is supported."),
                         render_kw={"rows": 12})
    submit = SubmitField(_l("Hand in"))


class RegradeForm(FlaskForm):
    criterion = SelectField(_l("Criterion"), coerce=int, validators=[InputRequired()])
    reason = TextAreaField(_l("Why should it be looked at again?"), validators=[DataRequired()],
                           render_kw={"rows": 4})
    submit = SubmitField(_l("Request a regrade"))
