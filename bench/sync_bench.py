"""Time a first content sync, a no-op re-sync and a one-lesson re-sync of a generated tree.

    python bench/sync_bench.py [--lessons 1000] [--database sqlite|postgresql] [--keep DIR]

The tree comes from ``bench/generate.py``; the database is a fresh SQLite file in a temporary
instance folder, or a throwaway PostgreSQL cluster (``tests/pgcluster.py``). Exits non-zero if a
sync reports errors, if the no-op re-sync changes anything, or if it takes 10% or more of the
first sync (the target of the issue).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from generate import generate_tree  # noqa: E402

from lms import create_app  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.services.content.sync import default_workers, sync_tree  # noqa: E402

NOOP_LIMIT = 0.10


def machine() -> str:
    """nproc, the CPU model and the Python version, on one line."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()} on {platform.system()}"


@contextlib.contextmanager
def database(kind: str, workdir: Path):
    """Yield a URL of an empty database; a PostgreSQL cluster is stopped (and removed) afterwards."""
    if kind == "sqlite":
        path = workdir / "instance" / "bench.sqlite3"
        path.unlink(missing_ok=True)  # with --keep, start from an empty database every time
        yield f"sqlite:///{path}"
        return
    from tests.pgcluster import PostgresCluster
    cluster = PostgresCluster().start()
    try:
        cluster.create_database("lms_bench")
        yield cluster.url("lms_bench")
    finally:
        cluster.stop()


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the sync's rendering workers)."""
    times = os.times()
    return times.children_user + times.children_system


def edit_one_lesson(content: Path) -> str:
    """Append a paragraph to one lesson in the middle of the tree; return its path."""
    lessons = sorted(content.glob("courses/*/lessons/*.md"))
    target = lessons[len(lessons) // 2]
    with target.open("a", encoding="utf-8") as f:
        f.write("\n补充说明 Addendum: 本课新增了一个练习。 One exercise was added to this lesson.\n")
    return target.relative_to(content).as_posix()


def run(lessons: int, kind: str, workdir: Path) -> int:
    """Generate, sync three times, print the table; return the exit status."""
    content = workdir / "content"
    counts = generate_tree(content, lessons)
    (workdir / "instance").mkdir(parents=True, exist_ok=True)
    print(f"Content sync benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"Machine:  {machine()}")
    print(f"Tree:     {', '.join(f'{v} {k}' for k, v in counts.items())} in {content}")
    with database(kind, workdir) as url:
        print(f"Database: {kind} ({url.split('@')[-1] if kind == 'postgresql' else url})\n")
        app = create_app({"INSTANCE_PATH": str(workdir / "instance"), "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": url, "LMS_CONTENT_DIR": str(content),
                          "LMS_UPLOAD_DIR": str(workdir / "uploads")})
        with app.app_context():
            db.create_all()
            steps = []
            for name in ("first sync", "no-op re-sync", "one lesson edited"):
                note = edit_one_lesson(content) if name == "one lesson edited" else ""
                start, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
                result = sync_tree(content)
                steps.append((name, time.perf_counter() - start, time.process_time() - cpu, result, note,
                              _children_cpu() - children))
            db.session.remove()
            db.engine.dispose()
    print(f"{'step':<20}{'seconds':>9}{'cpu s':>9}{'workers':>9}{'created':>9}{'updated':>9}{'rendered':>10}")
    for name, seconds, cpu, r, _note, workers in steps:
        print(f"{name:<20}{seconds:>9.3f}{cpu:>9.3f}{workers:>9.3f}{len(r.created):>9}{len(r.updated):>9}"
              f"{r.rendered:>10}")
    first, noop = steps[0][1], steps[1][1]
    print(f"\nno-op / first = {noop / first:.1%} (target: under {NOOP_LIMIT:.0%})")
    print(f"edited: {steps[2][4]}")
    print(f"(seconds: wall clock; cpu s: this process; workers: CPU s of its rendering processes "
          f"({default_workers()} at most, LMS_SYNC_WORKERS); neither counts the database server)")
    status = 0
    for name, _seconds, _cpu, r, _note, _workers in steps:
        for error in r.errors[:10]:
            print(f"ERROR in {name}: {error}", file=sys.stderr)
        status |= bool(r.errors)
    if steps[1][3].changed:
        print("FAIL: the no-op re-sync changed the database", file=sys.stderr)
        status = 1
    if noop >= NOOP_LIMIT * first:
        print(f"FAIL: the no-op re-sync took {noop / first:.1%} of the first sync", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", type=int, default=1000, help="lessons in the generated tree")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (tree, SQLite file) and keep it instead of a temporary folder")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.lessons, args.database, args.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as tmp:
        return run(args.lessons, args.database, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
