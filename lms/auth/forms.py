"""Sign-in and account forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problems

LANGUAGE_CHOICES = [SelectChoice("zh_CN", "中文", render_kw={"lang": "zh-CN"}),
                    SelectChoice("en", "English", render_kw={"lang": "en"})]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class NewPasswordMixin:
    def validate_password(self, field):
        email = getattr(getattr(self, "email", None), "data", "") or ""
        name = getattr(getattr(self, "name", None), "data", "") or ""
        if len(field.data or "") < MIN_PASSWORD_LENGTH:
            return  # the Length validator already says so
        problems = password_problems(field.data or "", email=email, name=name)
        if problems:
            raise ValidationError(" ".join(str(p) for p in problems))


class RegisterForm(NewPasswordMixin, FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                                                              max=MAX_PASSWORD_LENGTH)],
                             description=_l("At least %(count)d characters; not a common password.",
                                            count=MIN_PASSWORD_LENGTH))
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])
    language = SelectField(_l("Preferred language"), choices=LANGUAGE_CHOICES)
    submit = SubmitField(_l("Create account"))


class PasswordChangeForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                                                                  max=MAX_PASSWORD_LENGTH)],
                             description=_l("At least %(count)d characters; not a common password.",
                                            count=MIN_PASSWORD_LENGTH))
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])
    submit = SubmitField(_l("Change password"))


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    submit = SubmitField(_l("Send reset link"))


class ResetForm(NewPasswordMixin, FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                                                                  max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])
    submit = SubmitField(_l("Set new password"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


TIMEZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul",
             "Asia/Kolkata", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"]


class SettingsForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    language = SelectField(_l("Preferred language"), choices=LANGUAGE_CHOICES)
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(zone) for zone in TIMEZONES],
                           description=_l("Dates and deadlines are shown in this time zone."))
    submit = SubmitField(_l("Save settings"))
