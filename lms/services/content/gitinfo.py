"""Read the git history of content files (commit id, author, date), when there is one."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class CommitInfo:
    commit_id: str
    author: str
    email: str
    date: datetime


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    return subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)


def work_tree(root: Path) -> Path | None:
    """The top of the git work tree that holds ``root``, or None when there is none (or no git)."""
    try:
        result = _git(root, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def head_commit(top: Path) -> str | None:
    """The commit id of HEAD, or None in a repository without commits."""
    result = _git(top, "rev-parse", "--verify", "-q", "HEAD")
    return result.stdout.strip() or None if result.returncode == 0 else None


def last_commits(root: Path, rel_paths: list[str]) -> dict[str, CommitInfo]:
    """For each content-relative path, the last commit that touched it.

    Paths with uncommitted changes (or never committed) are left out: no commit holds the
    content being synced, so claiming one would mislead an auditor.
    """
    top = work_tree(root)
    if top is None or not rel_paths or head_commit(top) is None:
        return {}
    root = root.resolve()
    prefix = root.relative_to(top.resolve()).as_posix()
    to_repo = {(f"{prefix}/{p}" if prefix != "." else p): p for p in rel_paths}
    status = _git(top, "status", "--porcelain", "-z", "--untracked-files=all", "--", root.as_posix())
    dirty = set()
    for entry in status.stdout.split("\0"):
        if len(entry) > 3:
            dirty.add(entry[3:])
    wanted = {p for p in to_repo if p not in dirty}
    found: dict[str, CommitInfo] = {}
    if not wanted:
        return found
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    # One pass over the history, newest first, stopping once every path has its commit.
    proc = subprocess.Popen(
        ["git", "-c", "core.quotepath=off", "log", "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI", "--name-only",
         "--no-renames", "--", root.as_posix()],
        cwd=top, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    current: CommitInfo | None = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("\x1e"):
                commit_id, author, email, date = line[1:].split("\x1f")
                current = CommitInfo(commit_id, author, email, datetime.fromisoformat(date))
            elif line and current is not None and line in wanted and line not in found:
                found[line] = current
                if len(found) == len(wanted):
                    break
    finally:
        proc.kill()
        proc.wait()
    return {to_repo[path]: info for path, info in found.items()}
