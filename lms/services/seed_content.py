"""A valid, realistic and reproducible content tree of any size, for benchmarks and ``flask dev seed``.

The tree follows the layout of ``content/`` (see docs/content.md): a few enterprise cases, courses of
``lessons_per_course`` lessons each (alternating zh-CN and en), one or more assignments and one SVG
diagram per course. Every lesson is a few hundred words of mixed Chinese and English Markdown
with headings, a fenced Python block, a table, a link to the next lesson and an image.
The same arguments always give byte-identical files. ``bench/generate.py`` is its command line.
"""
from __future__ import annotations

import random
from pathlib import Path

INDUSTRIES = ("logistics", "manufacturing", "fintech", "smart-park")
DISTRICTS = ("Huli", "Jimei", "Siming", "Haicang", "Tong'an", "Xiang'an")
TOPICS = (("冷链温度监控", "cold-chain temperature monitoring"),
          ("产线质检", "production-line quality checks"),
          ("支付风控", "payment risk scoring"), ("园区能耗", "smart-park energy use"),
          ("仓储拣货", "warehouse picking"), ("设备预测性维护", "predictive maintenance"))
ZH = ("我们先读取原始数据，再检查缺失值和异常值。",
      "这一步的目标是让数据可以被重复分析。",
      "企业导师会在代码评审中关注命名和注释。",
      "请把每一步的结论写进报告，并说明依据。",
      "真实数据往往不干净，时间戳的时区尤其需要注意。",
      "用小样本先验证思路，再扩展到全量数据。",
      "图表要有标题、坐标轴和单位，方便非技术同事阅读。",
      "如果结果和直觉不符，先回头检查数据来源。")
EN = ("We load the raw readings first and look for gaps and outliers.",
      "The goal of this step is an analysis that anyone can run again.",
      "Mentors from the company review naming and comments in every pull request.",
      "Write down each conclusion in the report together with the evidence behind it.",
      "Real data is rarely clean; time zones in timestamps deserve particular care.",
      "Try the idea on a small sample before running it on the full data set.",
      "Every chart needs a title, labelled axes and units so that non-engineers can read it.",
      "When a result contradicts intuition, check where the data came from before anything else.")
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80" viewBox="0 0 240 80">'
       '<rect x="4" y="20" width="90" height="40" rx="6" fill="#e8f0fe" stroke="#1a73e8"/>'
       '<text x="49" y="45" font-size="12" text-anchor="middle">{a}</text>'
       '<path d="M96 40 H140" stroke="#1a73e8" marker-end="url(#m)"/>'
       '<rect x="146" y="20" width="90" height="40" rx="6" fill="#fef7e0" stroke="#f9ab00"/>'
       '<text x="191" y="45" font-size="12" text-anchor="middle">{b}</text></svg>\n')


def _paragraph(rng: random.Random, sentences: int = 6) -> str:
    return " ".join(rng.choice(ZH) if rng.random() < 0.5 else rng.choice(EN) for _ in range(sentences))


def _lesson(rng: random.Random, course: int, n: int, total: int, case: str) -> str:
    zh, en = TOPICS[(course + n) % len(TOPICS)]
    nxt = n + 1 if n < total else 1
    rows = "\n".join(f"| {day} | {rng.uniform(-20, 8):.1f} | {rng.randint(0, 3)} |" for day in range(1, 6))
    return f"""---
title: "第 {n} 课 / Lesson {n}: {zh} ({en})"
cases: [{case}]
minutes: {rng.choice((20, 30, 45, 60))}
---
# {zh}: {en}

{_paragraph(rng)}

## 背景 Background

{_paragraph(rng, 8)}

{_paragraph(rng, 7)}

![流程图 diagram](../assets/diagram.svg)

## 代码 Code

```python
import pandas as pd

readings = pd.read_csv("data/course-{course:03d}/lesson-{n}.csv", parse_dates=["ts"])
readings["ts"] = readings["ts"].dt.tz_localize("Asia/Shanghai")
daily = readings.groupby(readings["ts"].dt.date)["value"].agg(["mean", "max", "count"])
print(daily.head({n % 7 + 3}))  # 查看前几天 / first days
```

## 数据 Data

| day | mean °C | alarms |
|-----|---------|--------|
{rows}

{_paragraph(rng, 6)}

## 小结 Summary

{_paragraph(rng, 5)}

下一课 Next: [Lesson {nxt}]({nxt:02d}-lesson-{nxt}.md)
"""


def _assignment(rng: random.Random, course: int, last: int, zh_cn: bool, number: int = 1) -> tuple[str, int]:
    """The ``number``-th assignment of a course (the first is ``project.md``, due mid-month)."""
    names = ("代码质量 Code quality", "分析 Analysis", "报告 Report")
    criteria = [(name, rng.choice((2, 3, 4, 5))) for name in names]
    points = sum(top for _, top in criteria)
    rubric = "".join(f"""  - criterion: "{name}"
    description: "{_paragraph(rng, 1)}"
    levels:
      - {{points: {top}, label: "{'优秀' if zh_cn else 'Excellent'}"}}
      - {{points: {top // 2}, label: "{'合格' if zh_cn else 'Adequate'}"}}
      - {{points: 0, label: "{'缺失' if zh_cn else 'Missing'}"}}
""" for name, top in criteria)
    title = f"项目 Project {course}" if number == 1 else f"项目 Project {course}.{number}"
    month, day = (course + number - 1) % 6 + 1, 15 if number == 1 else min(28, 1 + 7 * (number - 1))
    return f"""---
title: "{title}"
due: 2027-0{month}-{day:02d}T23:59:00+08:00
points: {points}
after_lesson: lesson-{last}
submission:
  files: [".zip", ".pdf", ".md"]
  max_files: 3
  repo_url: optional
late:
  policy: accept
  penalty_per_day: 10
rubric:
{rubric}---
{_paragraph(rng, 6)}
""", points


def course_mentors(course: int, mentors: int = 7) -> list[str]:
    """The mentor e-mails a generated course lists: two of ``mentor-1..N@example.com``."""
    first, second = course % mentors + 1, (course + 3) % mentors + 1
    if second == first:
        second = (course + 1) % mentors + 1
    return [f"mentor-{n}@example.com" for n in dict.fromkeys((first, second))]


def generate_tree(root: Path, lessons: int = 1000, lessons_per_course: int = 25, seed: int = 1, *,
                  mentors: int = 7, assignments_per_course: int = 1) -> dict:
    """Write the tree under ``root`` and return the number of files of each kind.

    ``mentors`` is the number of distinct mentor e-mails (``mentor-N@example.com``) the courses
    share, two per course; ``assignments_per_course`` adds ``project-2.md`` ... after
    ``project.md``. Their defaults give the tree the sync benchmark has always used.
    """
    if not 1 <= lessons_per_course <= 99:
        raise ValueError("lessons_per_course must be between 1 and 99 (two-digit lesson numbers)")
    if mentors < 1 or not 1 <= assignments_per_course <= 9:
        raise ValueError("need at least one mentor and 1 to 9 assignments per course")
    rng, root = random.Random(seed), Path(root)
    n_courses = -(-lessons // lessons_per_course)
    n_cases = max(2, min(8, n_courses))
    counts = {"cases": n_cases, "courses": n_courses, "lessons": lessons,
              "assignments": n_courses * assignments_per_course, "assets": n_courses}
    (root / "cases").mkdir(parents=True, exist_ok=True)
    for c in range(1, n_cases + 1):
        zh, en = TOPICS[c % len(TOPICS)]
        (root / "cases" / f"case-{c}.md").write_text(f"""---
title: "{zh} ({en})"
company: "Example Co. {c} (illustrative)"
industry: {INDUSTRIES[c % len(INDUSTRIES)]}
district: "{DISTRICTS[c % len(DISTRICTS)]}"
summary: "一个虚构的案例 / an illustrative case about {en}."
---
# 背景 Background

{_paragraph(rng, 6)}
""", encoding="utf-8")
    for course in range(1, n_courses + 1):
        base = root / "courses" / f"course-{course:03d}"
        for sub in ("lessons", "assignments", "assets"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        zh_cn, zh, en = course % 2 == 1, *TOPICS[course % len(TOPICS)]
        case = f"case-{course % n_cases + 1}"
        (base / "course.md").write_text(f"""---
title: "{zh if zh_cn else en.capitalize()} {course}"
summary: "{_paragraph(rng, 1)}"
language: {"zh-CN" if zh_cn else "en"}
level: {("beginner", "intermediate", "advanced")[course % 3]}
mentors:
{"".join(f"  - {email}{chr(10)}" for email in course_mentors(course, mentors))}cases: [{case}, case-{(course + 1) % n_cases + 1}]
---
{_paragraph(rng, 5)}
""", encoding="utf-8")
        total = min(lessons_per_course, lessons - (course - 1) * lessons_per_course)
        for n in range(1, total + 1):
            (base / "lessons" / f"{n:02d}-lesson-{n}.md").write_text(_lesson(rng, course, n, total, case),
                                                                     encoding="utf-8")
        text, _points = _assignment(rng, course, total, zh_cn)
        (base / "assignments" / "project.md").write_text(text, encoding="utf-8")
        for number in range(2, assignments_per_course + 1):
            after = max(1, total * number // (assignments_per_course + 1))
            text, _points = _assignment(rng, course, after, zh_cn, number)
            (base / "assignments" / f"project-{number}.md").write_text(text, encoding="utf-8")
        (base / "assets" / "diagram.svg").write_text(SVG.format(a=f"数据 data {course}", b="报告 report"),
                                                     encoding="utf-8")
    return counts
