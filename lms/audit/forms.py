"""The auditor's sign-off form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from ..services.signoff import MAX_COMMENT


class SignOffForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice("approved", _l("Approve this version")),
                                                   SelectChoice("changes_requested", _l("Request changes"))],
                          validators=[InputRequired()])
    comment = TextAreaField(_l("Comment"), description=_l("Markdown is supported. Required when you request changes."),
                            validators=[Length(max=MAX_COMMENT)], render_kw={"rows": 6})
    submit = SubmitField(_l("Record decision"))

    def validate_comment(self, field) -> None:
        if self.decision.data == "changes_requested" and not (field.data or "").strip():
            raise ValidationError(_l("Say what should change."))
