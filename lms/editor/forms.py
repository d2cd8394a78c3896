"""The editor's forms: one per kind of content file, the lesson order, image uploads.

Field validators check what a form can check on its own (required, numbers, slugs), with
messages in the reader's language; the content format's own rules run on the text that would
be saved (see drafts.py).
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateTimeLocalField, DecimalField, FieldList, FileField, Form, FormField,
                     HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, SubmitField,
                     TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..services.editing import valid_slug
from ..services.editing.files import RESERVED

# Under the 500 kB a request may hold per form field (Flask's MAX_FORM_MEMORY_SIZE) in UTF-8 Chinese.
MAX_BODY = 150_000
OFFSETS = ("-12:00", "-11:00", "-10:00", "-09:30", "-09:00", "-08:00", "-07:00", "-06:00", "-05:00", "-04:00",
           "-03:30", "-03:00", "-02:00", "-01:00", "+00:00", "+01:00", "+02:00", "+03:00", "+03:30", "+04:00",
           "+04:30", "+05:00", "+05:30", "+05:45", "+06:00", "+06:30", "+07:00", "+08:00", "+08:45", "+09:00",
           "+09:30", "+10:00", "+10:30", "+11:00", "+12:00", "+12:45", "+13:00", "+14:00")


class WholeNumberField(IntegerField):
    """An optional whole number whose parse error is in the reader's language."""

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            try:
                self.data = int(valuelist[0].strip())
            except ValueError:
                raise ValueError(_l("Enter a whole number.")) from None


class NumberField(DecimalField):
    """An optional number (decimals allowed) whose parse error is in the reader's language."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("places", None)  # 10 and 7.5, not 10.00 and 7.50
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            try:
                self.data = Decimal(valuelist[0].strip().replace(",", "."))
            except InvalidOperation:
                raise ValueError(_l("Enter a number.")) from None
            if not self.data.is_finite():
                self.data = None
                raise ValueError(_l("Enter a number."))


class LocalTimeField(DateTimeLocalField):
    """A date and time picked in the browser (no time zone; the offset is a field of its own)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            for fmt in self.format:
                try:
                    self.data = datetime.strptime(valuelist[0].strip(), fmt)
                    return
                except ValueError:
                    continue
            raise ValueError(_l("Enter a date and a time, for example 2027-04-18 23:59."))


class OffsetField(SelectField):
    """A UTC offset (+08:00) from a list; an offset a file already uses is accepted even if not listed."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=[SelectChoice(o, f"UTC{o}") for o in OFFSETS], **kwargs)

    def pre_validate(self, form):
        if not re.fullmatch(r"[+-](0\d|1[0-4]):[0-5]\d", self.data or ""):
            raise ValidationError(_l("Choose a time zone."))
        if self.data not in OFFSETS:
            self.choices = [*self.choices, SelectChoice(self.data, f"UTC{self.data}")]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):  # a value that left the list is reported by the content check
        pass


def _slug_check(form, field) -> None:
    if field.data and (not valid_slug(field.data) or field.data in RESERVED):
        raise ValidationError(_l("Use lower-case letters a–z, digits and single hyphens, for example sql-basics "
                                 "(not “new”)."))


class EditorForm(FlaskForm):
    """What every content file form has: its text, the commit message and the hash it started from."""

    base_hash = HiddenField()
    body = TextAreaField(_l("Text"), description=_l("Markdown. The preview shows it as students will see it."),
                         validators=[Length(max=MAX_BODY, message=_l(
                             "The text is too long for one file (at most %(max)d characters): split it into "
                             "several lessons."))],
                         render_kw={"rows": 24, "spellcheck": "true"})
    message = StringField(_l("Describe your change"), validators=[Length(max=500)],
                          description=_l("Saved with your change in the content folder's history (the commit message)."))
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))


class SlugMixin:
    slug = StringField(_l("Slug (the name in the address)"),
                       validators=[DataRequired(_l("Choose a slug.")), Length(max=100), _slug_check],
                       description=_l("Lower-case letters, digits and hyphens. It becomes part of the page address "
                                      "and cannot be changed later."))


class CourseForm(EditorForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give it a title.")), Length(max=300)])
    summary = TextAreaField(_l("Summary"), validators=[DataRequired(_l("Write a summary."))],
                            description=_l("One or two sentences, shown in the catalog."), render_kw={"rows": 3})
    language = SelectField(_l("Language of the course"),
                           choices=[SelectChoice("zh-CN", _l("Chinese")), SelectChoice("en", _l("English"))])
    level = SelectField(_l("Level"), choices=[SelectChoice("", _l("Not set")), SelectChoice("beginner", _l("Beginner")),
                                              SelectChoice("intermediate", _l("Intermediate")),
                                              SelectChoice("advanced", _l("Advanced"))])
    published = BooleanField(_l("Published: listed in the catalog and open to students"))
    cases = MultiCheckboxField(_l("Enterprise cases the course is built on"))
    mentors = TextAreaField(_l("Mentors"), description=_l("E-mail addresses, one per line. Only administrators "
                                                          "change this list."), render_kw={"rows": 3})


class LessonForm(EditorForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give it a title.")), Length(max=300)])
    minutes = WholeNumberField(_l("Minutes (optional)"), validators=[Optional(), NumberRange(
        min=1, max=100_000, message=_l("Enter a number of minutes greater than 0."))],
        description=_l("Estimated time to read and work through the lesson."))
    cases = MultiCheckboxField(_l("Enterprise cases used in this lesson"))


class NewLessonForm(SlugMixin, LessonForm):
    pass


class LevelForm(Form):
    points = NumberField(_l("Points"), validators=[Optional()])
    label = StringField(_l("Level"), validators=[Length(max=200)])
    description = StringField(_l("Description"), validators=[Length(max=2000)])


class CriterionForm(Form):
    criterion = StringField(_l("Criterion"), validators=[Length(max=300)])
    description = StringField(_l("Description"), validators=[Length(max=2000)])
    levels = FieldList(FormField(LevelForm))


def _modes(none_label) -> list[SelectChoice]:
    return [SelectChoice("required", _l("Required")), SelectChoice("optional", _l("Optional")),
            SelectChoice("none", none_label)]


class AssignmentForm(EditorForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give it a title.")), Length(max=300)])
    due = LocalTimeField(_l("Due"), validators=[DataRequired(_l("Enter the due date and time."))])
    due_offset = OffsetField(_l("Time zone of the due time"))
    points = NumberField(_l("Points"), validators=[DataRequired(_l("Enter the maximum score.")),
                                                   NumberRange(min=Decimal("0.01"), message=_l("Enter a number greater than 0."))],
                         description=_l("The maximum score: the highest levels of the rubric must add up to it."))
    after_lesson = SelectField(_l("Shown after lesson"))
    files = StringField(_l("File types students may upload"),
                        description=_l("Extensions separated by commas, for example .zip, .pdf. Empty: no files."))
    max_files = WholeNumberField(_l("Most files per attempt"), validators=[Optional(), NumberRange(
        min=1, max=1000, message=_l("Enter a number from 1 to 1000."))])
    max_mb = NumberField(_l("Largest file (MiB)"), validators=[Optional(), NumberRange(
        min=Decimal("0.01"), message=_l("Enter a number greater than 0."))])
    repo_url = SelectField(_l("Repository link"), choices=_modes(_l("Not asked for")))
    answer = SelectField(_l("Written answer"), choices=_modes(_l("Not asked for")))
    late_policy = SelectField(_l("Late work"), choices=[SelectChoice("accept", _l("Accepted")),
                                                        SelectChoice("reject", _l("Refused"))])
    penalty = NumberField(_l("Penalty per started day late, in percent"), validators=[Optional(), NumberRange(
        min=0, max=100, message=_l("Enter a number from 0 to 100."))])
    late_until = LocalTimeField(_l("No late work after (optional)"), validators=[Optional()])
    late_until_offset = OffsetField(_l("Time zone of that time"))
    rubric = FieldList(FormField(CriterionForm))
    more_rows = SubmitField(_l("Add rows"))


class NewAssignmentForm(SlugMixin, AssignmentForm):
    pass


class OrderForm(FlaskForm):
    order = HiddenField()
    listing = HiddenField()
    message = StringField(_l("Describe your change"), validators=[Length(max=500)])
    move = StringField()  # sent by the "Move up" / "Move down" buttons: "up:<slug>" or "down:<slug>"
    save = SubmitField(_l("Save order"))


class AssetForm(FlaskForm):
    image = FileField(_l("Image"), description=_l("PNG, JPEG, GIF or WebP. SVG is not accepted."))
    name = StringField(_l("File name (optional)"), validators=[Length(max=100)],
                       description=_l("Lower-case letters, digits and hyphens, e.g. cold-room-layout.png. "
                                      "Empty: the uploaded file's name."))
    replace = BooleanField(_l("Replace an existing image of that name"))
    message = StringField(_l("Describe your change (optional)"), validators=[Length(max=500)],
                          description=_l("The commit message. Left empty, it names the file and the course."))
    submit = SubmitField(_l("Upload"))


class StudentViewForm(FlaskForm):
    on = HiddenField()
    next = HiddenField()
    submit = SubmitField(_l("View as student"))
