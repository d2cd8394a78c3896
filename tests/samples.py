"""A small valid content tree that tests copy and then break on purpose."""
from __future__ import annotations

CASE = """\
---
title: 港口冷链调度
company: Example Cold Chain Co. (illustrative)
industry: logistics
district: Haicang
summary: 一个虚构的冷链物流案例。
---
# 背景

冷库的温度数据每五分钟上报一次。
"""

COURSE = """\
---
title: Python 数据分析入门
summary: 用真实的物流数据学习 Python。
language: zh-CN
level: beginner
mentors:
  - mentor@example.com
cases:
  - port-cold-chain
---
面向大学生的免费课程。
"""

LESSON_1 = """\
---
title: 第一课：环境准备
cases: [port-cold-chain]
minutes: 30
---
# 环境准备

下一课：[读取数据](02-reading-data.md)。

![流程图](../assets/flow.png)

```python
print("你好")
```

| 列 | 含义 |
|----|------|
| t  | 温度 |
"""

LESSON_2 = """\
---
title: 第二课：读取数据
---
## 读取 CSV

回到 [第一课](01-setup.md)。
"""

ASSIGNMENT = """\
---
title: 期末项目
due: 2027-01-15T23:59:00+08:00
points: 10
after_lesson: reading-data
submission:
  files: [".zip", ".pdf"]
  max_files: 2
  repo_url: optional
late:
  policy: accept
  penalty_per_day: 10
rubric:
  - criterion: 代码质量
    levels:
      - {points: 6, label: 优秀}
      - {points: 3, label: 合格}
  - criterion: 报告
    description: 清楚说明结论
    levels:
      - {points: 4, label: 优秀}
      - {points: 0, label: 缺失}
---
提交一个分析报告。
"""

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f1d8"
    "6d0000000049454e44ae426082"
)


def valid_tree() -> dict[str, str | bytes]:
    """Files of a valid tree: one case, one course with two lessons, an assignment and an asset."""
    return {
        "cases/port-cold-chain.md": CASE,
        "courses/py-data/course.md": COURSE,
        "courses/py-data/lessons/01-setup.md": LESSON_1,
        "courses/py-data/lessons/02-reading-data.md": LESSON_2,
        "courses/py-data/assignments/final-project.md": ASSIGNMENT,
        "courses/py-data/assets/flow.png": PNG_1PX,
    }
