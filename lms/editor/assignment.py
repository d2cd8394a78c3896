"""The assignment form's own work: due times with their UTC offset, submission and late settings,
and the rubric table (rows of criteria, each with rows of levels) that works without JavaScript.
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from .forms import OFFSETS, AssignmentForm

# Empty rows are added only up to these numbers: enough for any real rubric, and few enough fields
# to stay under Flask's MAX_FORM_PARTS (1000). Rows a file already has are never cut.
MAX_CRITERIA, MAX_LEVELS, NEW_LEVELS = 20, 8, 3
SUBMISSION_DEFAULTS = {"max_files": 5, "max_mb": 50, "repo_url": "none", "text": "optional"}


def blank(*values) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def text(value) -> str:
    return (value or "").strip()


def number(value: Decimal | int | float | None):
    """A form number as the front matter writes it: 10, not 10.00; 7.5."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def tidy_rubric(form: AssignmentForm) -> None:
    """After a POST: number the rubric's rows again without the empty ones, then add empty rows."""
    rows = []
    for entry in form.rubric.entries:
        sub, levels = entry.form, []
        for level in sub.levels.entries:
            lv = level.form
            points = lv.points.data if lv.points.data is not None else (lv.points.raw_data or [""])[0]
            if not blank(points, lv.label.data, lv.description.data):
                levels.append({"points": points, "label": lv.label.data or "", "description": lv.description.data or ""})
        if levels or not blank(sub.criterion.data, sub.description.data):
            rows.append({"criterion": sub.criterion.data or "", "description": sub.description.data or "",
                         "levels": levels})
    set_rubric(form, rows)


def set_rubric(form: AssignmentForm, rows: list[dict]) -> None:
    form.rubric.entries, form.rubric.last_index = [], -1
    for row in rows:
        form.rubric.append_entry(row)
    add_blank_rows(form)


def add_blank_rows(form: AssignmentForm) -> None:
    """One empty level row per criterion and one empty criterion with three empty levels."""
    for entry in form.rubric.entries:
        if len(entry.form.levels.entries) < MAX_LEVELS:
            entry.form.levels.append_entry()
    if len(form.rubric.entries) < MAX_CRITERIA:
        empty = form.rubric.append_entry()
        for _i in range(NEW_LEVELS):
            empty.form.levels.append_entry()


def _offset_of(value: datetime) -> str:
    minutes = int(value.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_offset(zone: str) -> str:
    """The UTC offset of a time zone now, e.g. "+08:00" for Asia/Shanghai."""
    return _offset_of(datetime.now(ZoneInfo(zone)))


def split_time(raw, zone: str) -> tuple[datetime | None, str]:
    """(local date and time, "+08:00") of an ISO 8601 value from a file."""
    try:
        value = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        return None, zone_offset(zone)
    if value.utcoffset() is None:
        return value, zone_offset(zone)
    return value.replace(tzinfo=None), _offset_of(value)


def choose_offset(select_field, offset: str) -> None:
    if offset not in OFFSETS:
        select_field.choices = [*select_field.choices, SelectChoice(offset, f"UTC{offset}")]
    select_field.data = offset


def fill_new(form: AssignmentForm, zone: str) -> None:
    """The defaults of a new assignment: the content format's, due in the mentor's time zone."""
    choose_offset(form.due_offset, zone_offset(zone))
    choose_offset(form.late_until_offset, zone_offset(zone))
    form.max_files.data, form.max_mb.data = SUBMISSION_DEFAULTS["max_files"], SUBMISSION_DEFAULTS["max_mb"]
    form.repo_url.data, form.answer.data, form.late_policy.data = "none", "optional", "accept"
    add_blank_rows(form)


def fill(form: AssignmentForm, raw: dict, meta: dict, zone: str) -> None:
    """Fill the form from an assignment file: ``raw`` front matter (for the offsets as written) and
    the normalised ``meta``."""
    form.title.data, form.points.data = meta["title"], meta["points"]
    form.due.data, offset = split_time(raw.get("due"), zone)
    choose_offset(form.due_offset, offset)
    form.after_lesson.data = meta["after_lesson"] or ""
    sub, late = meta["submission"], meta["late"]
    form.files.data = ", ".join(sub["files"])
    form.max_files.data, form.max_mb.data = sub["max_files"], sub["max_mb"]
    form.repo_url.data, form.answer.data = sub["repo_url"], sub["text"]
    form.late_policy.data, form.penalty.data = late["policy"], late["penalty_per_day"] or None
    raw_late = raw.get("late") if isinstance(raw.get("late"), dict) else {}
    if raw_late.get("until"):
        form.late_until.data, offset = split_time(raw_late["until"], zone)
    else:
        offset = form.due_offset.data
    choose_offset(form.late_until_offset, offset)
    set_rubric(form, [{"criterion": criterion["criterion"], "description": criterion["description"] or "",
                       "levels": [{"points": level["points"], "label": level["label"],
                                   "description": level["description"] or ""} for level in criterion["levels"]]}
                      for criterion in meta["rubric"]])


def _iso(local: datetime | None, offset: str) -> str | None:
    return f"{local.strftime('%Y-%m-%dT%H:%M:%S')}{offset}" if local else None


def rubric(form: AssignmentForm, errors: list[str]) -> list[dict]:
    """The rubric's criteria from the table; a half-filled row adds a message to ``errors``."""
    criteria = []
    for position, entry in enumerate(form.rubric.entries, start=1):
        sub, levels = entry.form, []
        for level in sub.levels.entries:
            lv = level.form
            if blank(lv.points.data, lv.label.data, lv.description.data):
                continue
            if not isinstance(lv.points.data, (Decimal, int, float)) or not text(lv.label.data):
                errors.append(_("Criterion %(number)d: every level needs points and a label.", number=position))
                continue
            levels.append({"points": number(lv.points.data), "label": text(lv.label.data),
                           **({"description": text(lv.description.data)} if text(lv.description.data) else {})})
        if not levels and blank(sub.criterion.data, sub.description.data):
            continue
        if not text(sub.criterion.data):
            errors.append(_("Criterion %(number)d needs a name.", number=position))
        if not levels:
            errors.append(_("Criterion %(number)d needs at least one level.", number=position))
        criteria.append({"criterion": text(sub.criterion.data),
                         **({"description": text(sub.description.data)} if text(sub.description.data) else {}),
                         "levels": levels})
    return criteria


def meta(form: AssignmentForm, errors: list[str]) -> dict:
    """The assignment's front matter from the form; keys left at the format's defaults are left out."""
    result = {"title": text(form.title.data), "due": _iso(form.due.data, form.due_offset.data),
              "points": number(form.points.data)}
    if form.after_lesson.data:
        result["after_lesson"] = form.after_lesson.data
    submission = {}
    extensions = [e.lower() if e.startswith(".") else "." + e.lower()
                  for e in re.split(r"[\s,;，、]+", form.files.data or "") if e]
    if extensions:
        submission["files"] = list(dict.fromkeys(extensions))
    values = {"max_files": form.max_files.data, "max_mb": number(form.max_mb.data),
              "repo_url": form.repo_url.data, "text": form.answer.data}
    for key, value in values.items():
        if value is not None and value != SUBMISSION_DEFAULTS[key]:
            submission[key] = value
    if submission:
        result["submission"] = submission
    late = {}
    if form.late_policy.data != "accept":
        late["policy"] = form.late_policy.data
    if form.penalty.data:
        late["penalty_per_day"] = number(form.penalty.data)
    if form.late_until.data:
        late["until"] = _iso(form.late_until.data, form.late_until_offset.data)
    if late:
        result["late"] = late
    result["rubric"] = rubric(form, errors)
    return {k: v for k, v in result.items() if v is not None}
