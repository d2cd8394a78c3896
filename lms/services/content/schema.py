"""Validate front matter against the content format and normalise it.

Each ``validate_*`` function takes a parsed Document and returns the normalised metadata (plain
JSON-ready values) together with the errors found, each tied to the line of the offending key
or value. Cross-file checks (do referenced cases exist?) live in ``tree.py``.
"""
from __future__ import annotations

import difflib
import re
from datetime import datetime, timezone
from numbers import Real

from .frontmatter import Document, LocDict, LocList

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EXTENSION_RE = re.compile(r"^\.[a-z0-9]+(?:\.[a-z0-9]+)*$")
LANGUAGES = ("zh-CN", "en")
LEVELS = ("beginner", "intermediate", "advanced")
SUBMIT_MODES = ("required", "optional", "none")
LATE_POLICIES = ("accept", "reject")

KEYS = {
    "case": {"title": True, "company": True, "industry": True, "district": False, "summary": True},
    "course": {"title": True, "summary": True, "language": True, "level": False, "mentors": True,
               "cases": False, "published": False},
    "lesson": {"title": True, "cases": False, "minutes": False},
    "assignment": {"title": True, "due": True, "points": True, "after_lesson": False, "submission": False,
                   "late": False, "rubric": True},
    "submission": {"files": False, "max_files": False, "max_mb": False, "repo_url": False, "text": False},
    "late": {"policy": False, "penalty_per_day": False, "until": False},
    "criterion": {"criterion": True, "description": False, "levels": True},
    "level": {"points": True, "label": True, "description": False},
}

Problems = list[tuple[int, str]]


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _number(value):
    """Keep whole numbers as int so that JSON and display stay tidy."""
    return int(value) if float(value).is_integer() else float(value)


def check_keys(mapping: LocDict, kind: str, problems: Problems, where: str = "") -> None:
    """Report unknown keys (with a suggestion) and missing required keys of ``mapping``."""
    allowed = KEYS[kind]
    for key in mapping:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; allowed keys: {', '.join(allowed)}"
            problems.append((mapping.line_of(key), f"unknown key '{where}{key}'{suggestion}"))
    for key, required in allowed.items():
        if required and key not in mapping:
            problems.append((mapping.line, f"missing required key '{where}{key}'"))


def text(mapping: LocDict, key: str, problems: Problems, where: str = "") -> str | None:
    """A non-empty text value; numbers are accepted as text."""
    if key not in mapping or mapping[key] is None:
        if key in mapping:
            problems.append((mapping.line_of(key), f"'{where}{key}' must not be empty"))
        return None
    value = mapping[key]
    if _is_number(value):
        value = str(value)
    if not isinstance(value, str):
        problems.append((mapping.line_of(key), f"'{where}{key}' must be text"))
        return None
    if not value.strip():
        problems.append((mapping.line_of(key), f"'{where}{key}' must not be empty"))
        return None
    return value.strip()


def choice(mapping: LocDict, key: str, options: tuple[str, ...], problems: Problems,
           default: str | None = None, where: str = "") -> str | None:
    """One of ``options``; ``default`` when the key is absent."""
    if key not in mapping:
        return default
    value = mapping[key]
    if value not in options:
        shown = "none" if value is False else value
        problems.append((mapping.line_of(key),
                         f"'{where}{key}' must be one of {', '.join(options)} (got {shown!r})"))
        return default
    return value


def boolean(mapping: LocDict, key: str, problems: Problems, default: bool) -> bool:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, bool):
        problems.append((mapping.line_of(key), f"'{key}' must be true or false"))
        return default
    return value


def number(mapping: LocDict, key: str, problems: Problems, *, default=None, minimum=0, exclusive=True,
           maximum=None, integer=False, where: str = ""):
    """A number within bounds (``integer`` demands a whole number)."""
    if key not in mapping:
        return default
    value = mapping[key]
    kind = "a whole number" if integer else "a number"
    if not _is_number(value) or (integer and not float(value).is_integer()):
        problems.append((mapping.line_of(key), f"'{where}{key}' must be {kind}"))
        return default
    too_small = value <= minimum if exclusive else value < minimum
    if too_small or (maximum is not None and value > maximum):
        bound = f"greater than {minimum}" if exclusive else f"at least {minimum}"
        if maximum is not None:
            bound += f" and at most {maximum}"
        problems.append((mapping.line_of(key), f"'{where}{key}' must be {bound}"))
        return default
    return _number(value)


def timestamp(mapping: LocDict, key: str, problems: Problems, where: str = "") -> datetime | None:
    """An ISO 8601 date and time with an explicit UTC offset, returned in UTC."""
    if key not in mapping:
        return None
    value = mapping[key]
    line = mapping.line_of(key)
    example = "e.g. 2026-12-01T23:59:00+08:00"
    if not isinstance(value, str):
        problems.append((line, f"'{where}{key}' must be an ISO 8601 date and time with a UTC offset, {example}"))
        return None
    raw = value.strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        problems.append((line, f"'{where}{key}' is not an ISO 8601 date and time: {raw!r} ({example})"))
        return None
    if "T" not in raw and " " not in raw:
        problems.append((line, f"'{where}{key}' needs a time and a UTC offset, not only a date ({example})"))
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        problems.append((line, f"'{where}{key}' has no UTC offset; add one, {example}"))
        return None
    return parsed.astimezone(timezone.utc)


def slug_list(mapping: LocDict, key: str, problems: Problems, what: str) -> list[str]:
    """A list of distinct slugs (for example case slugs)."""
    if key not in mapping:
        return []
    value = mapping[key]
    if not isinstance(value, LocList):
        problems.append((mapping.line_of(key), f"'{key}' must be a list of {what} slugs"))
        return []
    result: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not SLUG_RE.match(item):
            problems.append((value.line_of(index), f"'{key}' entry {item!r} is not a valid {what} slug"))
        elif item in result:
            problems.append((value.line_of(index), f"'{key}' lists {item!r} twice"))
        else:
            result.append(item)
    return result


def email_list(mapping: LocDict, key: str, problems: Problems) -> list[str]:
    """A non-empty list of distinct e-mail addresses, lower-cased."""
    if key not in mapping:
        return []
    value = mapping[key]
    if not isinstance(value, LocList) or not value:
        problems.append((mapping.line_of(key), f"'{key}' must be a list of at least one e-mail address"))
        return []
    result: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not EMAIL_RE.match(item.strip()):
            problems.append((value.line_of(index), f"'{key}' entry {item!r} is not an e-mail address"))
            continue
        email = item.strip().lower()
        if email in result:
            problems.append((value.line_of(index), f"'{key}' lists {email!r} twice"))
        else:
            result.append(email)
    return result


def validate_case(doc: Document) -> tuple[dict, Problems]:
    """Metadata of an enterprise case."""
    m, problems = doc.meta, []
    check_keys(m, "case", problems)
    industry = text(m, "industry", problems)
    meta = {
        "title": text(m, "title", problems),
        "company": text(m, "company", problems),
        "industry": industry.lower() if industry else None,
        "district": text(m, "district", problems) if "district" in m else None,
        "summary": text(m, "summary", problems),
    }
    return meta, problems


def validate_course(doc: Document) -> tuple[dict, Problems]:
    """Metadata of a course."""
    m, problems = doc.meta, []
    check_keys(m, "course", problems)
    meta = {
        "title": text(m, "title", problems),
        "summary": text(m, "summary", problems),
        "language": choice(m, "language", LANGUAGES, problems),
        "level": choice(m, "level", LEVELS, problems),
        "mentors": email_list(m, "mentors", problems),
        "cases": slug_list(m, "cases", problems, "case"),
        "published": boolean(m, "published", problems, True),
    }
    return meta, problems


def validate_lesson(doc: Document) -> tuple[dict, Problems]:
    """Metadata of a lesson."""
    m, problems = doc.meta, []
    check_keys(m, "lesson", problems)
    meta = {
        "title": text(m, "title", problems),
        "cases": slug_list(m, "cases", problems, "case"),
        "minutes": number(m, "minutes", problems, integer=True),
    }
    return meta, problems


def _submission(m: LocDict, problems: Problems) -> dict:
    raw = m.get("submission")
    if raw is None:
        raw = LocDict(m.line_of("submission"))
    if not isinstance(raw, LocDict):
        problems.append((m.line_of("submission"), "'submission' must be a mapping of settings"))
        raw = LocDict(m.line_of("submission"))
    check_keys(raw, "submission", problems, "submission.")
    files: list[str] = []
    if "files" in raw:
        value = raw["files"]
        if not isinstance(value, LocList):
            problems.append((raw.line_of("files"), "'submission.files' must be a list of extensions like \".zip\""))
        else:
            for index, item in enumerate(value):
                ext = item.strip().lower() if isinstance(item, str) else None
                if not ext or not EXTENSION_RE.match(ext):
                    problems.append((value.line_of(index),
                                     f"'submission.files' entry {item!r} is not a file extension like \".pdf\""))
                elif ext not in files:
                    files.append(ext)
    result = {
        "files": files,
        "max_files": number(raw, "max_files", problems, default=5, integer=True, where="submission."),
        "max_mb": number(raw, "max_mb", problems, default=50, where="submission."),
        "repo_url": choice(raw, "repo_url", SUBMIT_MODES, problems, "none", "submission."),
        "text": choice(raw, "text", SUBMIT_MODES, problems, "optional", "submission."),
    }
    if not files and result["repo_url"] == "none" and result["text"] == "none":
        problems.append((m.line_of("submission"),
                         "the assignment accepts nothing: allow files, a repository URL or text"))
    return result


def _late(m: LocDict, due: datetime | None, problems: Problems) -> dict:
    raw = m.get("late")
    if raw is None:
        raw = LocDict(m.line_of("late"))
    if not isinstance(raw, LocDict):
        problems.append((m.line_of("late"), "'late' must be a mapping of settings"))
        raw = LocDict(m.line_of("late"))
    check_keys(raw, "late", problems, "late.")
    policy = choice(raw, "policy", LATE_POLICIES, problems, "accept", "late.")
    penalty = number(raw, "penalty_per_day", problems, default=0, exclusive=False, maximum=100, where="late.")
    until = timestamp(raw, "until", problems, "late.")
    if policy == "reject" and "until" in raw:
        problems.append((raw.line_of("until"), "'late.until' only applies with 'late.policy: accept'"))
    if policy == "reject" and penalty:
        problems.append((raw.line_of("penalty_per_day"),
                         "'late.penalty_per_day' only applies with 'late.policy: accept'"))
    if until is not None and due is not None and until <= due:
        problems.append((raw.line_of("until"), "'late.until' must be after 'due'"))
    return {"policy": policy, "penalty_per_day": penalty, "until": until.isoformat() if until else None}


def _rubric(m: LocDict, problems: Problems) -> tuple[list[dict], float | None]:
    """The rubric and the sum of each criterion's highest level (None when unusable)."""
    raw = m.get("rubric")
    if "rubric" not in m:
        return [], None
    if not isinstance(raw, LocList) or not raw:
        problems.append((m.line_of("rubric"), "'rubric' must be a list of at least one criterion"))
        return [], None
    criteria: list[dict] = []
    total, usable = 0, True
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if not isinstance(item, LocDict):
            problems.append((line, "each rubric entry must have 'criterion' and 'levels'"))
            usable = False
            continue
        check_keys(item, "criterion", problems, "rubric.")
        name = text(item, "criterion", problems, "rubric.")
        if name and any(c["criterion"] == name for c in criteria):
            problems.append((item.line_of("criterion"), f"criterion {name!r} appears twice in the rubric"))
        description = text(item, "description", problems, "rubric.") if "description" in item else None
        levels: list[dict] = []
        raw_levels = item.get("levels")
        if "levels" in item and (not isinstance(raw_levels, LocList) or not raw_levels):
            problems.append((item.line_of("levels"), "'levels' must be a list of at least one level"))
        elif isinstance(raw_levels, LocList):
            for level_index, level in enumerate(raw_levels):
                if not isinstance(level, LocDict):
                    problems.append((raw_levels.line_of(level_index), "each level must have 'points' and 'label'"))
                    continue
                check_keys(level, "level", problems, "rubric.levels.")
                points = number(level, "points", problems, exclusive=False, where="rubric.levels.")
                label = text(level, "label", problems, "rubric.levels.")
                level_description = (text(level, "description", problems, "rubric.levels.")
                                     if "description" in level else None)
                if points is not None and label:
                    levels.append({"points": points, "label": label, "description": level_description})
        if not levels or name is None or len(levels) != len(raw_levels or []):
            usable = False
        else:
            total += max(level["points"] for level in levels)
        if name is not None:
            levels.sort(key=lambda level: level["points"], reverse=True)
            criteria.append({"criterion": name, "description": description, "levels": levels})
    return criteria, (total if usable else None)


def validate_assignment(doc: Document) -> tuple[dict, Problems]:
    """Metadata of an assignment, including its submission rules, late policy and rubric."""
    m, problems = doc.meta, []
    check_keys(m, "assignment", problems)
    due = timestamp(m, "due", problems)
    points = number(m, "points", problems)
    after_lesson = None
    if "after_lesson" in m:
        value = m["after_lesson"]
        if not isinstance(value, str) or not SLUG_RE.match(value):
            problems.append((m.line_of("after_lesson"),
                             f"'after_lesson' must be a lesson slug (the file name without 'NN-' and '.md'), got {value!r}"))
        else:
            after_lesson = value
    rubric, rubric_total = _rubric(m, problems)
    if points is not None and rubric_total is not None and abs(rubric_total - points) > 1e-9:
        problems.append((m.line_of("points"),
                         f"the rubric's highest levels add up to {_number(rubric_total)}, but 'points' is {points}"))
    meta = {
        "title": text(m, "title", problems),
        "due": due.isoformat() if due else None,
        "points": points,
        "after_lesson": after_lesson,
        "submission": _submission(m, problems),
        "late": _late(m, due, problems),
        "rubric": rubric,
    }
    return meta, problems


VALIDATORS = {
    "case": validate_case,
    "course": validate_course,
    "lesson": validate_lesson,
    "assignment": validate_assignment,
}
