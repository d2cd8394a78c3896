"""Generate a valid, realistic and reproducible content tree for benchmarks.

The tree follows the layout of ``content/`` (see docs): a few enterprise cases, courses of
``lessons_per_course`` lessons each (alternating zh-CN and en), one assignment and one SVG
diagram per course. Every lesson is a few hundred words of mixed Chinese and English Markdown
with headings, a fenced Python block, a table, a link to the next lesson and an image.
The same arguments always give byte-identical files. The generator lives in
``lms/services/seed_content.py``, where ``flask dev seed`` uses it too.

    python bench/generate.py OUT_DIR --lessons 1000
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lms.services.seed_content import course_mentors, generate_tree  # noqa: E402,F401  (re-exported)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--lessons", type=int, default=1000)
    parser.add_argument("--lessons-per-course", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mentors", type=int, default=7)
    parser.add_argument("--assignments-per-course", type=int, default=1)
    args = parser.parse_args(argv)
    counts = generate_tree(args.out_dir, args.lessons, args.lessons_per_course, args.seed, mentors=args.mentors,
                           assignments_per_course=args.assignments_per_course)
    print(", ".join(f"{v} {k}" for k, v in counts.items()), "written to", args.out_dir)


if __name__ == "__main__":
    main()
