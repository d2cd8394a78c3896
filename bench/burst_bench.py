"""The deadline burst on its own: N students each hand in one file in the minute before a deadline.

    python bench/burst_bench.py [--scale 0.1] [--db sqlite|postgresql|both] [--submissions 500]
                                [--workers N] [--threads N] [--keep DIR]

The burst step of ``bench/load_bench.py`` without the page measurements: a fresh database seeded
with ``flask dev seed --scale`` (0.1 gives 500 students), gunicorn with the benchmark's settings,
``--submissions`` students signed in through the login form, enrolled in a new course whose
assignment is due a minute later (late work refused), each with the submission form open. Then
all of them hand in a unique Markdown file at once (50 connections), and the script checks in the
database and in storage that every student has exactly one attempt, numbered 1, holding the file
they sent. Exits non-zero if anything was lost or duplicated, or if the burst took a minute or more.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_bench import main as load_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="0.1")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--workers", help="default: gunicorn.conf.py's")
    parser.add_argument("--threads", help="default: gunicorn.conf.py's")
    parser.add_argument("--keep")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    forwarded = ["--pages", "none", "--skip-verify", "--scale", args.scale, "--db", args.db,
                 "--burst", str(args.submissions)]
    forwarded += ["--workers", args.workers] if args.workers else []
    forwarded += ["--threads", args.threads] if args.threads else []
    forwarded += ["--keep", args.keep] if args.keep else []
    forwarded += ["--out", args.out] if args.out else []
    return load_main(forwarded)


if __name__ == "__main__":
    sys.exit(main())
