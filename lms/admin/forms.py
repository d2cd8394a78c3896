"""Admin forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..auth.forms import NewPasswordMixin
from ..models import ROLES

ROLE_CHOICES = [SelectChoice("student", _l("Student")), SelectChoice("mentor", _l("Mentor")),
                SelectChoice("auditor", _l("Auditor")), SelectChoice("admin", _l("Administrator"))]
assert [choice.value for choice in ROLE_CHOICES] == list(ROLES)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    company = StringField(_l("Company (auditors)"), validators=[Optional(), Length(max=300)])
    audits_all = BooleanField(_l("Auditor of all courses (not only those using the company's cases)"))
    submit = SubmitField(_l("Save role"))


class ActiveForm(FlaskForm):
    submit = SubmitField(_l("Disable account"))


class EnableForm(FlaskForm):
    submit = SubmitField(_l("Enable account"))


class NewUserForm(NewPasswordMixin, FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="mentor")
    company = StringField(_l("Company (auditors)"), validators=[Optional(), Length(max=300)])
    audits_all = BooleanField(_l("Auditor of all courses (not only those using the company's cases)"))
    password = PasswordField(_l("Initial password"), validators=[DataRequired()])
    submit = SubmitField(_l("Create account"))


class SyncForm(FlaskForm):
    submit = SubmitField(_l("Sync content now"))
