"""Grading forms; the rubric form is built per assignment from its criteria."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (DateTimeLocalField, EmailField, HiddenField, IntegerField, RadioField, SelectField,
                     SubmitField, TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from ..templating import num


class GradeFormBase(FlaskForm):
    version = HiddenField()
    feedback = TextAreaField(_l("Feedback to the student"), description=_l("Markdown is supported."),
                             render_kw={"rows": 10})
    draft = SubmitField(_l("Save draft"))
    release = SubmitField(_l("Release to student"))


def grade_form(rubric: list[dict], **kwargs) -> GradeFormBase:
    """A form with one level choice and one comment box per rubric criterion."""
    class GradeForm(GradeFormBase):
        pass

    for index, criterion in enumerate(rubric):
        choices = [SelectChoice(i, f"{num(level['points'])} · {level['label']}") for i, level in enumerate(criterion["levels"])]
        setattr(GradeForm, f"level_{index}", RadioField(criterion["criterion"], choices=choices, coerce=int,
                                                        validators=[Optional()]))
        setattr(GradeForm, f"comment_{index}", TextAreaField(_l("Comment (optional)"), render_kw={"rows": 2}))
    return GradeForm(**kwargs)


class RegradeAnswerForm(FlaskForm):
    version = HiddenField()
    decision = RadioField(_l("Decision"), choices=[SelectChoice("accept", _l("Accept with a new level")),
                                                   SelectChoice("decline", _l("Decline"))],
                          validators=[InputRequired()])
    new_level = SelectField(_l("New level"), coerce=int, validators=[Optional()])
    response = TextAreaField(_l("Answer to the student"), render_kw={"rows": 3})
    submit = SubmitField(_l("Send answer"))


class ExtensionForm(FlaskForm):
    email = EmailField(_l("Student's e-mail address"), validators=[DataRequired()])
    due_at = DateTimeLocalField(_l("New due time"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()],
                                description=_l("In your time zone."))
    reason = TextAreaField(_l("Reason (optional)"), render_kw={"rows": 2})
    submit = SubmitField(_l("Grant extension"))


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    assignment = SelectField(_l("Assignment"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    page = IntegerField(validators=[Optional()])
