"""Realistic, reproducible bulk data at any scale, for benchmarks and scale tests (``flask dev seed``).

Scale 1 is the park's yearly intake: 5,000 students, 7 mentors, 20 courses of 25 lessons and 3
assignments each, 100,000 attempts and 100,000 audit entries. Scale 10 is the target of issue 7
(50,000 students, 70 mentors, 200 courses, 5,000 lessons, 1,000,000 attempts and audit entries).
Fractional scales make small databases for tests; every count has a small floor.

The content is real: a tree written by ``seed_content.generate_tree`` and imported with the real
``sync_tree``. Everything else is bulk-inserted with SQLAlchemy Core (executemany in chunks),
with explicit primary keys, so that nothing is read back row by row: accounts (one scrypt hash
of the shared password, computed once), enrollments, lesson progress, attempts with small files
put into storage, grades (drafts and released ones, with their history), regrade requests,
extensions, auditors' sign-offs and the audit log, as a valid hash chain continuing the one the
sync started. The same seed always gives the same rows; only what the sync stamps with the
current time (content versions and their log entries) differs between runs.
"""
from __future__ import annotations

import io
import json
import random
import shutil
import time
import zipfile
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

from sqlalchemy import JSON, func, insert, select, text, update
from werkzeug.security import generate_password_hash

from ..db_setup import begin_write
from ..extensions import db
from ..models import (Assignment, Attempt, AttemptFile, AuditEntry, AuditHead, Case, Course, CourseMentor,
                      Enrollment, Extension, Grade, GradeEvent, Lesson, LessonProgress, RegradeRequest, SignOff,
                      User)
from ..models.submissions import GRADING_STATES
from . import audit, grading, history, storage
from ..models.types import UTCDateTime
from .content.sync import sync_tree
from .render import render_user_markdown
from .seed_content import generate_tree

# Per unit of scale: the park's yearly intake.
PER_SCALE = {"students": 5000, "mentors": 7, "courses": 20, "lessons": 500, "attempts": 100_000,
             "audit_entries": 100_000}
DEFAULT_SEED = 2026
DEFAULT_PASSWORD = "seed-Pa55word-2026"
MARKER = ".lms-seed"  # marks a content folder this module wrote (and may rewrite)
BLOCK = 2000  # students whose rows are generated, inserted and committed together
CHUNK = 10_000  # rows per executemany
SHANGHAI = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ACCOUNTS_FROM = int((datetime(2026, 7, 1, tzinfo=SHANGHAI) - EPOCH).total_seconds())
TERM_START = int((datetime(2026, 9, 1, tzinfo=SHANGHAI) - EPOCH).total_seconds())
TERM_END = int((datetime(2026, 11, 15, tzinfo=SHANGHAI) - EPOCH).total_seconds())
DAY = 86_400
ZERO = Decimal("0.00")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞",
         "平", "刚", "桂英", "小明", "子涵", "欣怡", "梓轩", "浩宇", "雨桐", "思远", "嘉怡", "宇航", "佳琪", "一鸣",
         "晓东", "雅婷", "俊杰", "诗涵", "博文", "心怡", "志强", "丽娟", "海燕")
ENGLISH = ("Alex", "Amy", "Ben", "Cindy", "David", "Emma", "Frank", "Grace", "Henry", "Ivy", "Jack", "Kevin",
           "Lily", "Mia", "Nina", "Oscar", "Peter", "Ruby", "Sam", "Tina", "Vicky", "William", "Zoe")
ANSWERS = (
    "## 思路 Approach\n\n先清洗数据，再按天汇总。We cleaned the data first, then aggregated by day.",
    "见附件报告。The report is attached; the notebook runs end to end.",
    "我用 `pandas` 处理了缺失值，并画了三张图。\n\n- 数据清洗\n- 按天汇总\n- 异常检测",
    "Summary: the alarms cluster around night shifts. 夜班的报警明显更多。",
    "第二版：修正了时区问题。Second version: the time zone bug is fixed.",
    "| step | status |\n|---|---|\n| load | done |\n| clean | done |\n| report | draft |",
)
FEEDBACK = (
    "整体不错，代码结构清晰。Good structure overall.",
    "报告的结论需要更多数据支持。The conclusions need more evidence.",
    "**很好**：图表清楚，注释完整。Clear charts and comments.",
    "请注意时间戳的时区。Mind the time zone of the timestamps.",
    "Naming could be more consistent; 其余部分完成得很好。",
)
REASONS = ("我认为报告部分已经覆盖了全部要求。I believe the report covers every point.",
           "代码质量的评分似乎漏看了第二个文件。The second file seems to have been missed.",
           "Could you look at the analysis section again? 谢谢！")
RESPONSES = ("已重新查看，调整了等级。Looked again and changed the level.",
             "维持原评分：缺少数据来源说明。The grade stands: the data source is not explained.")
EXTENSION_REASONS = ("病假 Sick leave", "比赛 Competition", "实习面试 Internship interview")
CHANGES = ("请补充数据来源说明。Please state where the data comes from.",
           "案例中的公司名称需要更新。The company name in the case needs updating.")


class SeedError(Exception):
    """The seed cannot run here (a non-empty database, a foreign content folder, invalid content)."""


@dataclass(frozen=True)
class Plan:
    """How much of everything to make; ``Plan.for_scale`` derives it from the scale."""

    scale: float
    students: int
    mentors: int
    courses: int
    lessons_per_course: int
    assignments_per_course: int
    attempts: int
    audit_entries: int
    admins: int = 2
    mean_enrollments: float = 5.0

    @classmethod
    def for_scale(cls, scale: float, **overrides) -> Plan:
        if not scale > 0:
            raise SeedError("the scale must be a positive number")
        courses = max(2, round(PER_SCALE["courses"] * scale))
        values = dict(scale=scale, students=max(5, round(PER_SCALE["students"] * scale)),
                      mentors=max(2, round(PER_SCALE["mentors"] * scale)), courses=courses,
                      lessons_per_course=min(99, max(2, round(PER_SCALE["lessons"] * scale / courses))),
                      assignments_per_course=3, attempts=max(1, round(PER_SCALE["attempts"] * scale)),
                      audit_entries=round(PER_SCALE["audit_entries"] * scale))
        values.update(overrides)
        return cls(**values)


@dataclass
class Report:
    """What was made, how long it took, and whom to sign in as (all with ``password``)."""

    plan: Plan
    seed: int
    password: str
    content_dir: str
    counts: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)
    logins: dict[str, str] = field(default_factory=dict)
    targets: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"plan": self.plan.__dict__, "seed": self.seed, "password": self.password,
                "content_dir": self.content_dir, "counts": self.counts, "timings": self.timings,
                "logins": self.logins, "targets": self.targets, "seconds": self.seconds}


def _at(ts: int) -> datetime:
    return EPOCH + timedelta(seconds=ts)


def _name(rng: random.Random) -> str:
    zh = rng.choice(SURNAMES) + rng.choice(GIVEN)
    roll = rng.random()
    if roll < 0.25:
        return f"{zh} {rng.choice(ENGLISH)}"
    if roll < 0.35:
        return f"{rng.choice(ENGLISH)} {zh}"
    return zh


# --- content -----------------------------------------------------------------------------------

def _write_content(plan: Plan, content_dir: Path, seed: int) -> dict:
    content_dir.mkdir(parents=True, exist_ok=True)
    if any(content_dir.iterdir()):
        if not (content_dir / MARKER).exists():
            raise SeedError(f"{content_dir} holds files that flask dev seed did not write; give it an empty "
                            f"or missing folder with --content-dir")
        for sub in ("cases", "courses"):
            shutil.rmtree(content_dir / sub, ignore_errors=True)
    (content_dir / MARKER).write_text("Generated by `flask dev seed`; rewritten by every seed.\n", encoding="utf-8")
    return generate_tree(content_dir, plan.courses * plan.lessons_per_course, plan.lessons_per_course, seed,
                         mentors=plan.mentors, assignments_per_course=plan.assignments_per_course)


@dataclass
class _Course:
    id: int
    slug: str
    mentors: list[str]
    lessons: list[int]
    assignments: list[Assignment]
    companies: set[str] = field(default_factory=set)
    lesson_rows: list[tuple[int, int, str]] = field(default_factory=list)  # (id, version, content_hash)
    version: int = 1
    content_hash: str = ""
    attempts: int = 0
    enrolled: int = 0


def _load_content() -> list[_Course]:
    """The current courses with their mentors, lessons and assignments, in a few queries."""
    courses = {row.id: _Course(row.id, row.slug, [], [], [], version=row.version, content_hash=row.content_hash)
               for row in db.session.execute(select(Course.id, Course.slug, Course.version, Course.content_hash)
                                             .where(Course.retired_at.is_(None)).order_by(Course.id))}
    for course_id, email in db.session.execute(select(CourseMentor.course_id, CourseMentor.email)
                                               .order_by(CourseMentor.course_id, CourseMentor.position)):
        if course_id in courses:
            courses[course_id].mentors.append(email)
    for row in db.session.execute(select(Lesson.id, Lesson.course_id, Lesson.version, Lesson.content_hash)
                                  .where(Lesson.retired_at.is_(None)).order_by(Lesson.course_id, Lesson.position)):
        if row.course_id in courses:
            courses[row.course_id].lessons.append(row.id)
            courses[row.course_id].lesson_rows.append((row.id, row.version, row.content_hash))
    for assignment in db.session.scalars(select(Assignment).where(Assignment.retired_at.is_(None))
                                         .order_by(Assignment.course_id, Assignment.due_at, Assignment.slug)):
        if assignment.course_id in courses:
            courses[assignment.course_id].assignments.append(assignment)
    for course_id, companies in history.course_companies(list(courses)).items():
        courses[course_id].companies = companies
    return list(courses.values())


def _stored_files(rng: random.Random) -> list[tuple[str, str, int]]:
    """A few small files put into storage the way uploads get there: (file name, SHA-256, size)."""
    store = storage.get_storage()
    files = []
    for n in range(12):
        kind = ("zip", "md", "pdf")[n % 3]
        if kind == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for k in range(3):
                    info = zipfile.ZipInfo(f"project/step_{k}.py", date_time=(2026, 10, 1, 12, 0, 0))
                    archive.writestr(info, "".join(f"value_{i} = {rng.randint(0, 10 ** 6)}  # 读数 reading\n"
                                                   for i in range(40 + 20 * n)))
            name, data = "project.zip", buffer.getvalue()
        elif kind == "md":
            name = "report.md"
            data = ("# 报告 Report\n\n" + "\n\n".join(rng.choice(ANSWERS) for _ in range(8 + n))).encode()
        else:
            name = "report.pdf"
            body = " ".join(str(rng.randint(0, 999)) for _ in range(300 + 50 * n))
            data = f"%PDF-1.4\n% seeded report\n1 0 obj << /Type /Catalog >> endobj\n% {body}\n%%EOF\n".encode()
        incoming = store.new_temp(name)
        incoming.write(data)
        stored = store.put(incoming)
        files.append((name, stored.content_hash, stored.size))
    return files


# --- bulk inserts ------------------------------------------------------------------------------

class _Writer:
    """Rows collected per table and inserted in chunks, parents first, one transaction per flush."""

    ORDER = (User, Enrollment, LessonProgress, Extension, Attempt, AttemptFile, Grade, GradeEvent, RegradeRequest,
             SignOff, AuditEntry)

    def __init__(self):
        self.rows: dict[type, list[dict]] = {model: [] for model in self.ORDER}
        self.counts: dict[str, int] = {}
        self.next_id: dict[type, int] = {
            model: (db.session.scalar(select(func.max(model.id))) or 0) + 1 for model in self.ORDER}

    def new_id(self, model) -> int:
        value = self.next_id[model]
        self.next_id[model] = value + 1
        return value

    def add(self, model, row: dict) -> None:
        self.rows[model].append(row)

    def flush(self) -> None:
        begin_write()
        connection = db.session.connection()
        postgresql = connection.dialect.name == "postgresql"
        for model in self.ORDER:
            rows = self.rows[model]
            if rows and postgresql:
                self._copy(connection, model.__table__, rows)
            else:
                for start in range(0, len(rows), CHUNK):
                    connection.execute(insert(model.__table__), rows[start:start + CHUNK])
            self.counts[model.__tablename__] = self.counts.get(model.__tablename__, 0) + len(rows)
            rows.clear()
        db.session.commit()

    @staticmethod
    def _copy(connection, table, rows: list[dict]) -> None:
        """PostgreSQL: COPY the rows in, several times faster than even a pipelined executemany.

        Values are given as the columns store them: timestamps as naive UTC (what UTCDateTime
        binds), JSON as its text.
        """
        columns = list(rows[0])
        kinds = []
        for name in columns:
            column_type = table.c[name].type
            kinds.append("json" if isinstance(column_type, JSON) else
                         "time" if isinstance(column_type, UTCDateTime) else None)
        cursor = connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for name, kind in zip(columns, kinds):
                    value = row[name]
                    if value is not None and kind == "json":
                        value = json.dumps(value)
                    elif value is not None and kind == "time":
                        value = value.astimezone(timezone.utc).replace(tzinfo=None)
                    values.append(value)
                copy.write_row(values)
        cursor.close()

    def reset_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the explicit ids inserted, then VACUUM ANALYZE,
        as after any bulk load: the planner's statistics, so that the first queries are planned
        well, and the visibility map, so that index-only scans need not visit the table. Left to
        autovacuum, this work would run minutes later, beside the first pages served."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for model in self.ORDER:
            table = model.__tablename__
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")  # not inside a transaction


# --- the audit log -----------------------------------------------------------------------------

# Events are kept compact until the log is chained: (ts, tiebreak, kind, fields...).
def _materialize(event: tuple, rubric_hashes: dict[int, str]):
    """(action, object_type, object_id, actor_id, actor_email, course_id, details) of a compact event."""
    kind = event[2]
    if kind == "grade":
        _ts, _n, _k, action, attempt_id, actor_id, email, course_id, student_id, assignment_id, old, new = event
        details = {"student_id": student_id, "assignment_id": assignment_id,
                   "old": old and {"status": old[0], "score": old[1]},
                   "new": {"status": new[0], "score": new[1], "rubric_hash": rubric_hashes[assignment_id]}}
        return f"grade.{action}", "attempt", str(attempt_id), actor_id, email, course_id, details
    if kind == "regrade":
        _ts, _n, _k, action, attempt_id, actor_id, email, course_id, criterion, old_score, new_score = event
        details = {"criterion": criterion}
        if action != "regrade_requested":
            details.update(old_score=old_score, new_score=new_score)
        return f"grade.{action}", "attempt", str(attempt_id), actor_id, email, course_id, details
    if kind == "extension":
        _ts, _n, _k, assignment_id, actor_id, email, course_id, student_id, due_at, reason = event
        return ("extension.granted", "assignment", str(assignment_id), actor_id, email, course_id,
                {"student_id": student_id, "due_at": due_at, "reason": reason})
    if kind == "signoff":
        _ts, _n, _k, decision, item_type, item_id, actor_id, email, course_id, version, content_hash, signoff_id = event
        return (f"signoff.{decision}", item_type, str(item_id), actor_id, email, course_id,
                {"version": version, "content_hash": content_hash, "signoff_id": signoff_id, "commit": None})
    if kind == "account":
        _ts, _n, _k, user_id, actor_id, email, user_email, role, company, audits_all = event
        return ("account.created", "user", str(user_id), actor_id, email, None,
                {"email": user_email, "role": role, "company": company, "audits_all": audits_all,
                 "self_registered": actor_id is None and role == "student"})
    if kind == "login":
        _ts, _n, _k, user_id, email, address = event
        return "auth.login", "user", str(user_id), user_id, email, None, {"address": address}
    raise ValueError(kind)


def _chain(writer: _Writer, events: list[tuple], rubric_hashes: dict[int, str]) -> int:
    """Append the events, oldest first, to the chain the sync began; keep audit_head in step."""
    events.sort(key=lambda e: (e[0], e[1]))
    head = db.session.scalar(select(AuditHead).where(AuditHead.id == 1))
    seq, prev = (head.seq, head.hash) if head else (0, audit.GENESIS)
    db.session.rollback()
    for start in range(0, len(events), CHUNK * 5):
        for event in events[start:start + CHUNK * 5]:
            action, object_type, object_id, actor_id, email, course_id, details = _materialize(event, rubric_hashes)
            seq += 1
            at = _at(event[0])
            digest = audit.entry_hash(prev, seq, at, actor_id, email, action, object_type, object_id, course_id,
                                      details)
            writer.add(AuditEntry, {"id": writer.new_id(AuditEntry), "seq": seq, "at": at, "actor_id": actor_id,
                                    "actor_email": email, "action": action, "object_type": object_type,
                                    "object_id": object_id, "course_id": course_id, "details": details,
                                    "prev_hash": prev, "hash": digest})
            prev = digest
        writer.flush()
    begin_write()
    if head is None:
        db.session.execute(insert(AuditHead.__table__), [{"id": 1, "seq": seq, "hash": prev}])
    else:
        db.session.execute(update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1)
                           .values(seq=seq, hash=prev))
    db.session.commit()
    return len(events)


# --- the seed ----------------------------------------------------------------------------------

def _check_empty(force: bool) -> None:
    found = {name: db.session.scalar(select(func.count()).select_from(model)) or 0
             for name, model in (("users", User), ("enrollments", Enrollment), ("attempts", Attempt))}
    if any(found.values()) and not force:
        held = ", ".join(f"{count} {name}" for name, count in found.items() if count)
        raise SeedError(f"the database is not empty ({held}); seed a fresh database, or pass --force to add "
                        f"the seeded rows to it (e-mail addresses must not collide)")


def seed(plan: Plan, content_dir: Path, *, seed: int = DEFAULT_SEED, password: str = DEFAULT_PASSWORD,
         force: bool = False, echo: Callable[[str], None] = lambda message: None) -> Report:
    """Fill the database as ``plan`` says; refuses a database with accounts or work unless ``force``."""
    started = time.perf_counter()
    report = Report(plan, seed, password, str(content_dir))
    phase_start = [started]

    def phase(name: str) -> None:
        now = time.perf_counter()
        report.timings.append((name, round(now - phase_start[0], 3)))
        echo(f"  {name}: {now - phase_start[0]:.1f} s")
        phase_start[0] = now

    db.session.rollback()
    _check_empty(force)
    rng = random.Random(seed)
    content_dir = Path(content_dir)
    tree = _write_content(plan, content_dir, seed)
    result = sync_tree(content_dir)
    if result.errors:
        raise SeedError("the generated content does not sync: " + "; ".join(str(e) for e in result.errors[:5]))
    report.counts.update({f"content {kind}": count for kind, count in tree.items()})
    phase(f"content: generated and synced {tree['lessons']} lessons in {tree['courses']} courses")

    courses = _load_content()
    if not courses or not all(c.assignments and c.lessons and c.mentors for c in courses):
        raise SeedError("the synced content lacks courses with lessons, assignments and mentors")
    rubric_hashes = {a.id: a.content_hash for c in courses for a in c.assignments}
    writer = _Writer()
    events: list[tuple] = []
    tick = iter(range(1 << 62))
    files = _stored_files(rng)
    answers = [(answer, render_user_markdown(answer)) for answer in ANSWERS]
    feedback = [(text_, render_user_markdown(text_)) for text_ in FEEDBACK]
    password_hash = generate_password_hash(password, method="scrypt")
    phase("files stored, password hashed once")

    # Staff accounts.
    staff: dict[str, list[tuple[int, str]]] = {"admin": [], "mentor": [], "auditor": []}
    mentor_ids: dict[str, int] = {}
    companies = sorted({company for c in courses for company in c.companies}
                       | set(db.session.scalars(select(Case.company).where(Case.retired_at.is_(None)))))
    accounts = ([("admin", f"admin-{n}@example.com", f"管理员 Admin {n}", None, False)
                 for n in range(1, plan.admins + 1)]
                + [("mentor", f"mentor-{n}@example.com", f"{_name(rng)}（导师 mentor）", None, False)
                   for n in range(1, plan.mentors + 1)]
                + [("auditor", f"auditor-{n}@example.com", f"{_name(rng)}（审核 auditor）", company, False)
                   for n, company in enumerate(companies, 1)]
                + [("auditor", "auditor-all@example.com", "总审核 Lead auditor", None, True)])
    first_admin = None
    for k, (role, email, name, company, audits_all) in enumerate(accounts):
        user_id = writer.new_id(User)
        created = ACCOUNTS_FROM + k * 600
        writer.add(User, {"id": user_id, "email": email, "name": name, "role": role, "company": company,
                          "audits_all": audits_all, "password_hash": password_hash, "locale": None,
                          "timezone": "Asia/Shanghai", "active": True, "created_at": _at(created)})
        actor = first_admin or (None, None)
        events.append((created, next(tick), "account", user_id, actor[0], actor[1], email, role, company,
                       audits_all))
        if first_admin is None:
            first_admin = (user_id, email)
        staff[role].append((user_id, email))
        if role == "mentor":
            mentor_ids[email] = user_id
    for c in courses:
        c.mentors = [email for email in c.mentors if email in mentor_ids] or [staff["mentor"][0][1]]

    # Students and their enrollments (phase A: who takes what; the attempts are spread over it).
    order = list(range(len(courses)))
    rng.shuffle(order)
    cumulative, total = [], 0.0
    for rank in range(len(courses)):
        total += 1 / (rank + 1) ** 0.8
        cumulative.append(total)
    popular = [courses[i] for i in order]
    students: list[tuple[int, str, int]] = []  # (id, email, created)
    taking: list[list[tuple[_Course, int]]] = []  # per student: (course, enrolled at)
    pairs = 0
    for n in range(1, plan.students + 1):
        user_id, email = writer.new_id(User), f"student-{n:06d}@example.com"
        created = ACCOUNTS_FROM + rng.randrange(TERM_START - ACCOUNTS_FROM)
        students.append((user_id, email, created))
        want = min(len(courses), max(1, round(rng.gauss(plan.mean_enrollments, 2))))
        chosen: dict[int, _Course] = {}
        while len(chosen) < want:
            for course in rng.choices(popular, cum_weights=cumulative, k=want - len(chosen)):
                chosen.setdefault(course.id, course)
        mine = [(course, max(created, TERM_START) + rng.randrange(21 * DAY)) for course in chosen.values()]
        taking.append(mine)
        pairs += sum(len(course.assignments) for course, _at_ in mine)
    submitting = min(pairs, plan.attempts, max(1, round(plan.attempts / 1.6)))
    per_pair = array("H", bytes(2 * pairs))
    chosen_pairs = rng.sample(range(pairs), submitting)
    for p in chosen_pairs:
        per_pair[p] = 1
    for p in rng.choices(chosen_pairs, k=plan.attempts - submitting):
        per_pair[p] += 1
    del chosen_pairs
    phase(f"planned {plan.students} students, {sum(len(t) for t in taking)} enrollments, {pairs} student-assignment "
          f"pairs")

    # Phase B: every student's rows, a block at a time.
    combos: dict[tuple, tuple] = {}

    def graded(assignment: Assignment, levels: tuple[int, ...]) -> tuple:
        key = (assignment.id, levels)
        if key not in combos:
            rows = [{"criterion": c["criterion"], "level": i, "points": str(c["levels"][i]["points"]),
                     "label": c["levels"][i]["label"], "comment": ""} for c, i in zip(assignment.rubric, levels)]
            raw, final = grading.score(assignment.rubric, list(levels), ZERO)
            combos[key] = (rows, raw, final, str(raw), str(final))
        return combos[key]

    def state(status: str, combo: tuple, note: tuple, assignment: Assignment) -> dict:
        return {"status": status, "levels": combo[0], "feedback": note[0], "raw_score": combo[3],
                "penalty_percent": "0.00", "score": combo[4], "rubric_hash": assignment.content_hash}

    def pick_levels(assignment: Assignment) -> tuple[int, ...]:
        return tuple(min(len(c["levels"]) - 1, rng.choices((0, 1, 2), (50, 35, 15))[0]) for c in assignment.rubric)

    pair = 0
    best_student = (0, 0, "")
    for index, ((student_id, email, created), mine) in enumerate(zip(students, taking)):
        writer.add(User, {"id": student_id, "email": email, "name": _name(rng), "role": "student", "company": None,
                          "audits_all": False, "password_hash": password_hash,
                          "locale": rng.choice((None, None, "zh_CN", "en")), "timezone": "Asia/Shanghai",
                          "active": True, "created_at": _at(created)})
        events.append((created, next(tick), "account", student_id, None, None, email, "student", None, False))
        if len(mine) > best_student[0]:
            best_student = (len(mine), student_id, email)
        for course, enrolled in mine:
            course.enrolled += 1
            done = int(round(len(course.lessons) * rng.random() ** 1.5))
            seen = enrolled
            for position in range(done):
                seen += rng.randrange(3600, 3 * DAY)
                writer.add(LessonProgress, {"id": writer.new_id(LessonProgress), "user_id": student_id,
                                            "lesson_id": course.lessons[position], "course_id": course.id,
                                            "completed_at": _at(seen)})
            last = course.lessons[min(done, len(course.lessons) - 1)] if done or rng.random() < 0.5 else None
            writer.add(Enrollment, {"id": writer.new_id(Enrollment), "user_id": student_id, "course_id": course.id,
                                    "enrolled_at": _at(enrolled), "last_lesson_id": last,
                                    "last_seen_at": _at(seen) if last else None})
            for assignment in course.assignments:
                count, pair = per_pair[pair], pair + 1
                mentor = course.mentors[rng.randrange(len(course.mentors))]
                mentor_id = mentor_ids[mentor]
                due = assignment.due_at
                if rng.random() < 0.01:
                    granted = enrolled + rng.randrange(2 * DAY, 40 * DAY)
                    due = assignment.due_at + timedelta(days=rng.randint(3, 14))
                    reason = rng.choice(EXTENSION_REASONS)
                    writer.add(Extension, {"id": writer.new_id(Extension), "assignment_id": assignment.id,
                                           "user_id": student_id, "due_at": due, "reason": reason,
                                           "granted_by_id": mentor_id, "granted_at": _at(granted)})
                    events.append((granted, next(tick), "extension", assignment.id, mentor_id, mentor, course.id,
                                   student_id, due.astimezone(timezone.utc).isoformat(), reason))
                if not count:
                    continue
                course.attempts += count
                start = enrolled + 3 * DAY
                times = sorted(rng.randrange(start, max(start + DAY, TERM_END)) for _ in range(count))
                for number, submitted in enumerate(times, 1):
                    latest = number == count
                    attempt_id = writer.new_id(Attempt)
                    roll = rng.random()
                    answer = answers[rng.randrange(len(answers))] if roll < 0.5 else ("", "")
                    attempt_row = {
                        "id": attempt_id, "assignment_id": assignment.id, "course_id": course.id,
                        "user_id": student_id, "number": number, "submitted_at": _at(submitted),
                        "text": answer[0], "text_html": answer[1],
                        "repo_url": f"https://git.example.com/s{student_id}/project-{assignment.id}"
                        if roll > 0.6 else None,
                        "brief_hash": assignment.content_hash, "brief_version": assignment.version, "due_at": due,
                        "late_days": 0, "penalty_percent": ZERO, "latest": latest, "grading_state": 0}
                    writer.add(Attempt, attempt_row)
                    n_files = rng.choices((0, 1, 2), (15, 60, 25))[0] if answer[0] or roll > 0.6 else 1 + (roll < 0.1)
                    for position, k in enumerate(rng.sample(range(len(files)), n_files)):
                        name, content_hash, size = files[k]
                        writer.add(AttemptFile, {"id": writer.new_id(AttemptFile), "attempt_id": attempt_id,
                                                 "position": position, "filename": name,
                                                 "content_hash": content_hash, "size": size})
                    roll = rng.random()
                    status = (("released" if roll < 0.6 else "draft" if roll < 0.75 else None) if latest
                              else ("released" if roll < 0.7 else None))
                    if status is None:
                        continue
                    combo = graded(assignment, pick_levels(assignment))
                    note = feedback[rng.randrange(len(feedback))]
                    graded_at = submitted + rng.randrange(3600, 5 * DAY)
                    regrade = None
                    if status == "released" and latest and rng.random() < 0.03:
                        criterion = rng.randrange(len(assignment.rubric))
                        answer_status = rng.choices(("open", "accepted", "declined"), (40, 30, 30))[0]
                        regrade = (criterion, answer_status)
                    first = combo
                    if regrade and regrade[1] == "accepted":
                        levels = [row["level"] for row in combo[0]]
                        n_levels = len(assignment.rubric[regrade[0]]["levels"])
                        level = levels[regrade[0]]
                        levels[regrade[0]] = level + 1 if level + 1 < n_levels else level - 1
                        first = graded(assignment, tuple(levels))
                    history_rows = []
                    if status == "released" and rng.random() < 0.2:
                        history_rows.append(("draft_saved", graded_at - rng.randrange(600, DAY), None,
                                             state("draft", first, note, assignment)))
                    old = history_rows[-1][3] if history_rows else None
                    history_rows.append(("released" if status == "released" else "draft_saved", graded_at, old,
                                         state(status, first, note, assignment)))
                    version = len(history_rows)
                    updated = graded_at
                    if regrade:
                        criterion, answer_status = regrade
                        asked = graded_at + rng.randrange(DAY, 3 * DAY)
                        reason = rng.choice(REASONS)
                        answered = asked + rng.randrange(3600, 2 * DAY) if answer_status != "open" else None
                        current_level = combo[0][criterion]["level"]
                        first_level = first[0][criterion]["level"]
                        response = (RESPONSES[0] if answer_status == "accepted" else RESPONSES[1]) if answered else ""
                        writer.add(RegradeRequest, {
                            "id": writer.new_id(RegradeRequest), "attempt_id": attempt_id, "course_id": course.id,
                            "criterion": criterion, "reason": reason, "created_at": _at(asked),
                            "status": answer_status, "response": response, "old_level": first_level,
                            "new_level": current_level if answer_status == "accepted" else None,
                            "responder_id": mentor_id if answered else None,
                            "responded_at": _at(answered) if answered else None})
                        history_rows.append(("regrade_requested", asked, None,
                                             {"criterion": criterion, "reason": reason}, student_id, email))
                        events.append((asked, next(tick), "regrade", "regrade_requested", attempt_id, student_id,
                                       email, course.id, criterion, None, None))
                        if answered:
                            before = state("released", first, note, assignment)
                            after = state("released", combo, note, assignment)
                            history_rows.append((f"regrade_{answer_status}", answered, before,
                                                 {**after, "criterion": criterion, "response": response}))
                            events.append((answered, next(tick), "regrade", f"regrade_{answer_status}", attempt_id,
                                           mentor_id, mentor, course.id, criterion, first[4], combo[4]))
                            if answer_status == "accepted":
                                version += 1
                                updated = answered
                    released_at = next((at for action, at, *_rest in history_rows if action == "released"), None)
                    attempt_row["grading_state"] = GRADING_STATES[
                        "regrade" if regrade and regrade[1] == "open" else status]
                    writer.add(Grade, {
                        "id": writer.new_id(Grade), "attempt_id": attempt_id, "status": status, "levels": combo[0],
                        "feedback": note[0], "feedback_html": note[1], "raw_score": combo[1],
                        "penalty_percent": ZERO, "score": combo[2], "points": assignment.points,
                        "rubric_hash": assignment.content_hash, "rubric_version": assignment.version,
                        "grader_id": mentor_id, "updated_at": _at(updated),
                        "released_at": _at(released_at) if released_at else None, "version": version})
                    for action, at, old_state, new_state, *actor in history_rows:
                        actor_id = actor[0] if actor else mentor_id
                        writer.add(GradeEvent, {"id": writer.new_id(GradeEvent), "attempt_id": attempt_id,
                                                "actor_id": actor_id, "at": _at(at), "action": action,
                                                "old": old_state, "new": new_state})
                        if action in ("draft_saved", "released"):
                            events.append((at, next(tick), "grade", action, attempt_id, mentor_id, mentor, course.id,
                                           student_id, assignment.id,
                                           old_state and (old_state["status"], old_state["score"]),
                                           (new_state["status"], new_state["score"])))
        if (index + 1) % BLOCK == 0:
            writer.flush()
            echo(f"    {index + 1} students written")
    writer.flush()
    del taking, per_pair
    phase(f"students, enrollments, progress, attempts, grades: {writer.counts.get('attempts', 0)} attempts")

    # Auditors sign off versions of the courses that use their company's cases.
    auditors = {company: staff["auditor"][n] for n, company in enumerate(companies)}
    rendered = {"": ""}
    for course in courses:
        for company in sorted(course.companies):
            auditor_id, auditor_email = auditors[company]
            items = [("course", course.id, course.version, course.content_hash)] + [
                ("lesson", lesson_id, version, content_hash) for lesson_id, version, content_hash in course.lesson_rows
                if rng.random() < 0.3]
            for kind, item_id, version, content_hash in items:
                decision = "changes_requested" if rng.random() < 0.1 else "approved"
                comment = rng.choice(CHANGES) if decision == "changes_requested" else ""
                if comment not in rendered:
                    rendered[comment] = render_user_markdown(comment)
                signed = TERM_START + rng.randrange(TERM_END - TERM_START)
                signoff_id = writer.new_id(SignOff)
                writer.add(SignOff, {"id": signoff_id, "item_type": kind, "item_id": item_id, "course_id": course.id,
                                     "version": version, "content_hash": content_hash, "decision": decision,
                                     "comment": comment, "comment_html": rendered[comment], "auditor_id": auditor_id,
                                     "at": _at(signed)})
                events.append((signed, next(tick), "signoff", decision, kind, item_id, auditor_id, auditor_email,
                               course.id, version, content_hash, signoff_id))
    writer.flush()

    # Staff sign-ins fill the log up to the planned number of entries.
    synced = db.session.scalar(select(func.count(AuditEntry.id))) or 0
    signing_in = staff["mentor"] * 6 + staff["auditor"] + staff["admin"] * 2
    for _ in range(max(0, plan.audit_entries - synced - len(events))):
        user_id, email = signing_in[rng.randrange(len(signing_in))]
        events.append((TERM_START + rng.randrange(TERM_END - TERM_START), next(tick), "login", user_id, email,
                       f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"))
    phase(f"sign-offs; {len(events)} audit events to chain")
    _chain(writer, events, rubric_hashes)
    del events
    writer.reset_sequences()
    phase("audit log chained")

    report.counts["stored files"] = len(files)
    report.counts.update({table: count for table, count in writer.counts.items()})
    report.counts["audit_entries"] = db.session.scalar(select(func.count(AuditEntry.id))) or 0
    mentor_load = {email: sum(c.attempts for c in courses if email in c.mentors) for email in mentor_ids}
    busiest_mentor = max(mentor_ids, key=lambda email: (mentor_load[email], -mentor_ids[email]))
    company_courses = {company: sum(company in c.companies for c in courses) for company in companies}
    auditor_company = max(companies, key=lambda company: (company_courses[company], -companies.index(company)))
    report.logins = {"student": best_student[2], "mentor": busiest_mentor,
                     "auditor": auditors[auditor_company][1], "admin": staff["admin"][0][1]}
    report.targets = _targets(courses, busiest_mentor, best_student[1], auditor_company)
    db.session.commit()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _targets(courses: list[_Course], mentor: str, student_id: int, company: str) -> dict[str, object]:
    """Slugs and ids the benchmark and the tests open: the most attempted course, its middle lesson
    and first assignment; the busiest mentor's largest course; a course the auditor reviews; and an
    assignment of a course the student takes."""
    busiest = max(courses, key=lambda c: (c.attempts, -c.id))
    mentored = max((c for c in courses if mentor in c.mentors), key=lambda c: (c.enrolled, -c.id))
    audited = max((c for c in courses if company in c.companies), key=lambda c: (c.attempts, -c.id))
    lesson_id = busiest.lessons[len(busiest.lessons) // 2]
    lesson_slug = db.session.scalar(select(Lesson.slug).where(Lesson.id == lesson_id))
    handed_in = db.session.execute(select(Attempt.course_id, Attempt.assignment_id)
                                   .where(Attempt.user_id == student_id)
                                   .order_by(Attempt.submitted_at.desc(), Attempt.id).limit(1)).first()
    if handed_in is None:
        taken = db.session.scalar(select(Enrollment.course_id).where(Enrollment.user_id == student_id)
                                  .order_by(Enrollment.enrolled_at.desc(), Enrollment.id).limit(1))
        student_course = next(c for c in courses if c.id == taken)
        student_assignment = student_course.assignments[0]
    else:
        student_course = next(c for c in courses if c.id == handed_in.course_id)
        student_assignment = next(a for a in student_course.assignments if a.id == handed_in.assignment_id)
    return {"course": busiest.slug, "lesson": lesson_slug, "assignment": busiest.assignments[0].slug,
            "gradebook_course": mentored.slug, "audit_course": audited.slug, "audit_course_id": audited.id,
            "student_course": student_course.slug, "student_assignment": student_assignment.slug,
            "student_lesson": db.session.scalar(select(Lesson.slug).where(Lesson.id == student_course.lessons[0]))}
