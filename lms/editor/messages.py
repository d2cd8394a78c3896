"""Content-format errors in the reader's language, tied to the editor field they are about.

The validators of the content format (lms/services/content) write their messages in English
for ``flask content check``. The editor runs the same validators and translates their
messages here, by pattern; a message without a pattern is shown as it is.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _

# Front matter key -> the editor form field that sets it.
FIELDS = {
    "title": "title", "summary": "summary", "language": "language", "level": "level", "mentors": "mentors",
    "cases": "cases", "published": "published", "minutes": "minutes", "due": "due", "points": "points",
    "after_lesson": "after_lesson", "submission": "files", "submission.files": "files",
    "submission.max_files": "max_files", "submission.max_mb": "max_mb", "submission.repo_url": "repo_url",
    "submission.text": "answer", "late": "late_policy", "late.policy": "late_policy",
    "late.penalty_per_day": "penalty", "late.until": "late_until", "slug": "slug",
}

_DATE = lambda m: _("Enter a date and time with a UTC offset, for example 2026-12-01T23:59:00+08:00.")  # noqa: E731

RULES: list[tuple[re.Pattern, str | None, Callable[[re.Match], str]]] = [(re.compile(p), key, f) for p, key, f in [
    (r"^missing required key '(?P<key>[^']+)'$", None, lambda m: _("This is required.")),
    (r"^'(?P<key>[^']+)' must not be empty$", None, lambda m: _("This must not be empty.")),
    (r"^'(?P<key>[^']+)' must be text$", None, lambda m: _("Write this as text.")),
    (r"^'(?P<key>[^']+)' must be one of (?P<options>.+) \(got .*\)$", None,
     lambda m: _("Choose one of %(options)s.", options=m["options"])),
    (r"^'(?P<key>[^']+)' must be true or false$", None, lambda m: _("Choose yes or no.")),
    (r"^'(?P<key>[^']+)' must be a whole number$", None, lambda m: _("Enter a whole number.")),
    (r"^'(?P<key>[^']+)' must be a number$", None, lambda m: _("Enter a number.")),
    (r"^'(?P<key>[^']+)' must be greater than (?P<low>\S+) and at most (?P<high>\S+)$", None,
     lambda m: _("Enter a number greater than %(low)s and at most %(high)s.", low=m["low"], high=m["high"])),
    (r"^'(?P<key>[^']+)' must be at least (?P<low>\S+) and at most (?P<high>\S+)$", None,
     lambda m: _("Enter a number from %(low)s to %(high)s.", low=m["low"], high=m["high"])),
    (r"^'(?P<key>[^']+)' must be greater than (?P<low>\S+)$", None,
     lambda m: _("Enter a number greater than %(low)s.", low=m["low"])),
    (r"^'(?P<key>[^']+)' must be at least (?P<low>\S+)$", None,
     lambda m: _("Enter a number of at least %(low)s.", low=m["low"])),
    (r"^'(?P<key>[^']+)' (must be an ISO 8601|is not an ISO 8601|needs a time|has no UTC offset)", None, _DATE),
    (r"^'(?P<key>mentors)' must be a list of at least one e-mail address$", None,
     lambda m: _("List the e-mail address of at least one mentor.")),
    (r"^'(?P<key>mentors)' entry (?P<item>.+) is not an e-mail address$", None,
     lambda m: _("%(item)s is not an e-mail address.", item=m["item"])),
    (r"^'(?P<key>[^']+)' must be a list of \w+ slugs$", None, lambda m: _("List slugs, one per line.")),
    (r"^'(?P<key>[^']+)' entry (?P<item>.+) is not a valid \w+ slug$", None,
     lambda m: _("%(item)s is not a valid slug.", item=m["item"])),
    (r"^'(?P<key>[^']+)' lists (?P<item>.+) twice$", None, lambda m: _("%(item)s is listed twice.", item=m["item"])),
    (r"^'submission\.files' (must be a list|entry (?P<item>.+) is not a file extension)", "submission.files",
     lambda m: _("List file extensions like .zip, .pdf.")),
    (r"^the assignment accepts nothing", "submission",
     lambda m: _("The assignment accepts nothing: allow files, a repository link or a written answer.")),
    (r"^'late\.until' only applies with", "late.until",
     lambda m: _("A last time for late work only applies when late work is accepted.")),
    (r"^'late\.penalty_per_day' only applies with", "late.penalty_per_day",
     lambda m: _("A penalty only applies when late work is accepted.")),
    (r"^'late\.until' must be after 'due'$", "late.until",
     lambda m: _("The last time for late work must be after the due time.")),
    (r"^the rubric's highest levels add up to (?P<total>\S+), but 'points' is (?P<points>\S+)$", "points",
     lambda m: _("The rubric's highest levels add up to %(total)s, but the assignment is worth %(points)s points.",
                 total=m["total"], points=m["points"])),
    (r"^criterion (?P<item>.+) appears twice in the rubric$", "rubric",
     lambda m: _("The criterion %(item)s appears twice.", item=m["item"])),
    (r"^'rubric' must be a list of at least one criterion$", "rubric",
     lambda m: _("Add at least one criterion with its levels.")),
    (r"^('levels' must be a list of at least one level|each level must have|each rubric entry must have)", "rubric",
     lambda m: _("Every criterion needs a name and at least one level with points and a label.")),
    (r"^'after_lesson' must be a lesson slug", "after_lesson", lambda m: _("Choose a lesson of this course.")),
    (r"^case (?P<item>'[^']+') does not exist", "cases",
     lambda m: _("The case %(item)s does not exist.", item=m["item"])),
    (r"^'after_lesson' names (?P<item>'[^']+'), which is not a lesson of this course$", "after_lesson",
     lambda m: _("%(item)s is not a lesson of this course.", item=m["item"])),
    (r"^lesson slug (?P<item>'[^']+') is already used by (?P<other>.+)$", "slug",
     lambda m: _("The slug %(item)s is already used by %(other)s.", item=m["item"], other=m["other"])),
    (r"^lesson number (?P<number>\d+) is already used by (?P<other>.+)$", "",
     lambda m: _("Lesson number %(number)s is already used by %(other)s.", number=m["number"], other=m["other"])),
    (r"^the asset is larger than (?P<mb>\d+) MiB$", "",
     lambda m: _("The file is larger than %(mb)s MiB.", mb=m["mb"])),
    (r"^unknown key '(?P<key>[^']+)'", "", lambda m: _("Unknown key %(key)s.", key=m["key"])),
    (r"^invalid YAML: (?P<detail>.*)$", "", lambda m: _("The front matter is not valid YAML: %(detail)s",
                                                      detail=m["detail"])),
]]


def explain(message: str) -> tuple[str | None, str]:
    """(editor field name or None, the message in the reader's language) for one content error."""
    for pattern, key, translate in RULES:
        match = pattern.search(message)
        if match:
            key = key if key is not None else match.groupdict().get("key")
            if key and key.startswith("rubric"):
                return "rubric", translate(match)
            return FIELDS.get(key or ""), translate(match)
    return None, message
