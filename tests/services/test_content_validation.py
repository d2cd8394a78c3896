"""``check_tree``: every rule of the content format, reported as path:line: message."""
from __future__ import annotations

import pytest

from lms.services.content import check_tree
from tests.conftest import write_content
from tests.samples import ASSIGNMENT, CASE, COURSE, LESSON_1, LESSON_2, valid_tree

A = "courses/py-data/assignments/final-project.md"
C = "courses/py-data/course.md"
L1 = "courses/py-data/lessons/01-setup.md"
L2 = "courses/py-data/lessons/02-reading-data.md"
K = "cases/port-cold-chain.md"


def errors_for(tmp_path, changes: dict[str, str | None]) -> list[str]:
    files = valid_tree()
    for path, text in changes.items():
        if text is None:
            files.pop(path)
        else:
            files[path] = text
    root = tmp_path / "content"
    write_content(root, files)
    return [str(error) for error in check_tree(root).errors]


def test_valid_tree_has_no_errors(tmp_path):
    """The sample tree is valid, so every failure below comes from the one change made."""
    assert errors_for(tmp_path, {}) == []


CASES = [
    # (path, original, replace, by, expected "path:line: fragment")
    (K, CASE, "title: 港口冷链调度\n", "", f"{K}:1: missing required key 'title'"),
    (K, CASE, "industry: logistics", "industry: logistics\nsector: x", f"{K}:5: unknown key 'sector'"),
    (C, COURSE, "title: ", "titel: ", f"{C}:2: unknown key 'titel'; did you mean 'title'?"),
    (C, COURSE, "language: zh-CN", "language: fr", f"{C}:4: 'language' must be one of zh-CN, en"),
    (C, COURSE, "level: beginner", "level: expert", f"{C}:5: 'level' must be one of beginner, intermediate, advanced"),
    (C, COURSE, "  - mentor@example.com", "  - not-an-email", f"{C}:7: 'mentors' entry 'not-an-email' is not an e-mail address"),
    (C, COURSE, "mentors:\n  - mentor@example.com", "mentors: []", f"{C}:6: 'mentors' must be a list of at least one e-mail address"),
    (C, COURSE, "  - port-cold-chain", "  - no-such-case", f"{C}:9: case 'no-such-case' does not exist"),
    (C, COURSE, "level: beginner", "level: beginner\npublished: maybe", f"{C}:6: 'published' must be true or false"),
    (C, COURSE, "summary: 用真实的物流数据学习 Python。\n", "", f"{C}:1: missing required key 'summary'"),
    (L1, LESSON_1, "minutes: 30", "minutes: half an hour", f"{L1}:4: 'minutes' must be a whole number"),
    (L1, LESSON_1, "cases: [port-cold-chain]", "cases: [port-cold-chain, ghost]", f"{L1}:3: case 'ghost' does not exist"),
    (L1, LESSON_1, "title: 第一课：环境准备", "title: [unclosed", f"{L1}:3: invalid YAML"),
    (L1, LESSON_1, "minutes: 30", "minutes: 30\ntitle: again", f"{L1}:5: key 'title' appears twice"),
    (L2, LESSON_2, "---\ntitle: 第二课：读取数据\n---\n", "# no front matter\n", f"{L2}:1: the file must start with YAML front matter"),
    (L2, LESSON_2, "title: 第二课：读取数据\n---\n", "title: 第二课：读取数据\n", f"{L2}:1: the front matter is not closed"),
    (A, ASSIGNMENT, "due: 2027-01-15T23:59:00+08:00", "due: 2027-01-15T23:59:00", f"{A}:3: 'due' has no UTC offset"),
    (A, ASSIGNMENT, "due: 2027-01-15T23:59:00+08:00", "due: 2027-01-15", f"{A}:3: 'due' needs a time and a UTC offset"),
    (A, ASSIGNMENT, "due: 2027-01-15T23:59:00+08:00", "due: next friday", f"{A}:3: 'due' is not an ISO 8601 date and time"),
    (A, ASSIGNMENT, "points: 10", "points: ten", f"{A}:4: 'points' must be a number"),
    (A, ASSIGNMENT, "points: 10", "points: 12", f"{A}:4: the rubric's highest levels add up to 10, but 'points' is 12"),
    (A, ASSIGNMENT, "after_lesson: reading-data", "after_lesson: missing-lesson", f"{A}:5: 'after_lesson' names 'missing-lesson'"),
    (A, ASSIGNMENT, "  max_files: 2", "  max_file: 2", f"{A}:8: unknown key 'submission.max_file'"),
    (A, ASSIGNMENT, "  max_files: 2", "  max_files: 0", f"{A}:8: 'submission.max_files' must be greater than 0"),
    (A, ASSIGNMENT, '  files: [".zip", ".pdf"]', '  files: ["zip"]', f"{A}:7: 'submission.files' entry 'zip' is not a file extension"),
    (A, ASSIGNMENT, "  repo_url: optional", "  repo_url: sometimes", f"{A}:9: 'submission.repo_url' must be one of required, optional, none"),
    (A, ASSIGNMENT, "  policy: accept", "  policy: maybe", f"{A}:11: 'late.policy' must be one of accept, reject"),
    (A, ASSIGNMENT, "  penalty_per_day: 10", "  penalty_per_day: 10\n  until: 2027-01-01T00:00:00+08:00", f"{A}:13: 'late.until' must be after 'due'"),
    (A, ASSIGNMENT, "  policy: accept\n  penalty_per_day: 10", "  policy: reject\n  until: 2027-02-01T00:00:00+08:00", f"{A}:12: 'late.until' only applies with 'late.policy: accept'"),
    (A, ASSIGNMENT, "  penalty_per_day: 10", "  penalty_per_day: 150", f"{A}:12: 'late.penalty_per_day' must be at least 0 and at most 100"),
    (A, ASSIGNMENT, "      - {points: 3, label: 合格}", "      - {points: 3}", f"{A}:17: missing required key 'rubric.levels.label'"),
    (A, ASSIGNMENT, "  - criterion: 报告", "  - criterion: 代码质量", f"{A}:18: criterion '代码质量' appears twice in the rubric"),
    (A, ASSIGNMENT, "    description: 清楚说明结论", "    describe: 清楚说明结论", f"{A}:19: unknown key 'rubric.describe'"),
]


@pytest.mark.parametrize("path,original,old,new,expected", CASES,
                         ids=[f"{c[0].split('/')[-1]}:{c[4].split(': ', 1)[1][:40]}" for c in CASES])
def test_each_rule_reports_its_line(tmp_path, path, original, old, new, expected):
    """A single broken rule is reported once, with the line of the offending key or value."""
    assert old in original, "test data out of date"
    errors = errors_for(tmp_path, {path: original.replace(old, new, 1)})
    assert any(error.startswith(expected) for error in errors), errors


def test_missing_required_keys_of_an_assignment(tmp_path):
    """Every required assignment key is named when missing."""
    errors = errors_for(tmp_path, {A: "---\ntitle: x\n---\nbody\n"})
    for key in ("due", "points", "rubric"):
        assert f"{A}:1: missing required key '{key}'" in errors


def test_accepts_nothing(tmp_path):
    """An assignment that allows no files, no link and no text cannot be submitted at all."""
    text = ASSIGNMENT.replace('  files: [".zip", ".pdf"]\n  max_files: 2\n  repo_url: optional\n', "  text: none\n")
    errors = errors_for(tmp_path, {A: text})
    assert any("the assignment accepts nothing" in e for e in errors), errors


def test_utc_z_offset_is_accepted(tmp_path):
    """'Z' is an explicit UTC offset."""
    assert errors_for(tmp_path, {A: ASSIGNMENT.replace("+08:00", "Z")}) == []


@pytest.mark.parametrize("path,message", [
    ("courses/py-data/lessons/setup.md", "a lesson file must be named NN-<slug>.md"),
    ("courses/py-data/lessons/03-Bad_Slug.md", "a lesson file must be named NN-<slug>.md"),
    ("courses/py-data/assignments/Final.md", "an assignment file must be named <slug>.md"),
    ("cases/Port.md", "a case file must be named <slug>.md"),
    ("courses/py-data/notes.txt", "unexpected entry in a course folder"),
])
def test_misplaced_or_misnamed_files(tmp_path, path, message):
    """Files that do not fit the layout are reported, not silently skipped."""
    errors = errors_for(tmp_path, {path: LESSON_2})
    assert any(e.startswith(f"{path}:1: {message}") for e in errors), errors


def test_course_folder_needs_course_md_and_valid_slug(tmp_path):
    """A course folder without course.md, or with a bad name, is an error."""
    errors = errors_for(tmp_path, {C: None, "courses/Bad Name/course.md": COURSE})
    assert "courses/py-data:1: the course folder has no course.md" in errors
    assert any(e.startswith("courses/Bad Name:1: course folder 'Bad Name' is not a valid slug") for e in errors)


def test_duplicate_lesson_slug_and_number(tmp_path):
    """Two lessons may share neither a slug nor a number."""
    errors = errors_for(tmp_path, {"courses/py-data/lessons/03-setup.md": LESSON_2,
                                   "courses/py-data/lessons/02-other.md": LESSON_2})
    assert any("lesson slug 'setup' is already used by courses/py-data/lessons/01-setup.md" in e for e in errors)
    assert any("lesson number 02 is already used" in e for e in errors)


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    """A file that is not UTF-8 is named with the line of the first bad byte."""
    errors = errors_for(tmp_path, {L2: LESSON_2.encode() + b"\n\xff\xfe broken\n"})
    assert any(e.startswith(f"{L2}:8: the file is not valid UTF-8") for e in errors), errors


def test_all_errors_are_listed_at_once(tmp_path):
    """Errors in several files are all reported in one run, sorted by path and line."""
    errors = errors_for(tmp_path, {
        K: CASE.replace("industry: logistics", "industri: logistics"),
        L1: LESSON_1.replace("minutes: 30", "minutes: -5"),
        A: ASSIGNMENT.replace("points: 10", "points: 11"),
    })
    assert len(errors) >= 3
    assert {e.split(":")[0] for e in errors} >= {K, L1, A}
    assert errors == sorted(errors, key=lambda e: (e.split(":")[0], int(e.split(":")[1])))


def test_yaml_is_loaded_safely(tmp_path):
    """Python object tags are refused, not executed."""
    errors = errors_for(tmp_path, {L2: "---\ntitle: !!python/object/apply:os.system ['echo hi']\n---\n"})
    assert any(e.startswith(f"{L2}:2: invalid YAML") for e in errors), errors


def test_symbolic_links_are_refused_everywhere(tmp_path):
    """A symlink could import a file from outside content/ (and serve it): it is an error wherever it is."""
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    root = tmp_path / "content"
    write_content(root, valid_tree())
    (root / "courses/py-data/assets/leak.txt").symlink_to(secret)
    (root / "courses/py-data/lessons/03-linked.md").symlink_to(root / "courses/py-data/lessons/02-reading-data.md")
    (root / "courses/py-data/assets/dir").symlink_to(tmp_path)
    (root / "cases/alias.md").symlink_to(root / "cases/port-cold-chain.md")
    errors = [str(e) for e in check_tree(root).errors]
    for path in ("courses/py-data/assets/leak.txt", "courses/py-data/lessons/03-linked.md",
                 "courses/py-data/assets/dir", "cases/alias.md"):
        assert f"{path}:1: symbolic links are not allowed in content/: copy the file instead" in errors, errors


def test_check_enforces_the_asset_size_limit(tmp_path):
    """``check`` refuses what ``sync`` would refuse: oversized assets included."""
    root = tmp_path / "content"
    files = valid_tree()
    files["courses/py-data/assets/big.bin"] = b"\0" * (1024 * 1024 + 1)
    write_content(root, files)
    errors = [str(e) for e in check_tree(root, max_asset_mb=1).errors]
    assert errors == ["courses/py-data/assets/big.bin:1: the asset is larger than 1 MiB"]
