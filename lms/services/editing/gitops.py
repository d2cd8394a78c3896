"""Commit the editor's changes to the git repository that holds content/, and nothing else.

Git is always called with an argument list, never through a shell. A commit names its paths
explicitly (``git commit --only -- <paths>``), so changes staged or made anywhere else in the
work tree are never included; when a commit fails, the index entries of those paths are put
back as they were.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 60
# Variables that would point git at another repository, index or identity than ours.
_DROPPED_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE",
                "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
                "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE")
_UNSAFE_IDENTITY = re.compile(r"[<>\x00-\x1f\x7f]")


class GitError(RuntimeError):
    """Git failed; ``detail`` is what git said (its last lines), for the person who saved."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def clean(self) -> Identity:
        """Without characters that would break ``Name <email>`` (angle brackets, control characters)."""
        name = _UNSAFE_IDENTITY.sub("", self.name).strip() or self.email
        email = _UNSAFE_IDENTITY.sub("", self.email).strip()
        return Identity(name, email)


def _env(committer: Identity) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_COMMITTER_NAME=committer.name,
               GIT_COMMITTER_EMAIL=committer.email)
    return env


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Git:
    """One git executable working on the repository whose top folder is ``top``."""

    def __init__(self, top: Path, committer: Identity, executable: str = "git"):
        self.top, self.committer, self.executable = top, committer.clean(), executable

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        command = [self.executable, "-c", "core.quotepath=off", "-c", f"user.name={self.committer.name}",
                   "-c", f"user.email={self.committer.email}", *args]
        try:
            result = subprocess.run(command, cwd=self.top, env=_env(self.committer), input=stdin,
                                    capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise GitError(f"{self.executable}: {exc}") from None
        if check and result.returncode != 0:
            raise GitError(_tail(result.stderr or result.stdout) or f"git {args[0]} exited with {result.returncode}")
        return result

    def index_entries(self, paths: list[str]) -> str:
        """The index lines (``mode sha stage\\tpath``) of ``paths`` now, to put back after a failure."""
        return self.run("ls-files", "--stage", "-z", "--", *paths).stdout

    def restore_index(self, paths: list[str], saved: str) -> None:
        """Put the index entries of ``paths`` back as :meth:`index_entries` saw them."""
        self.run("update-index", "--force-remove", "--", *paths, check=False)
        lines = [entry for entry in saved.split("\0") if entry]
        if lines:
            self.run("update-index", "-z", "--index-info", stdin="\0".join(lines) + "\0", check=False)

    def commit(self, paths: list[str], *, author: Identity, message: str) -> str | None:
        """Commit exactly ``paths`` (repository-relative; removed files included) with ``author``;
        returns the new commit id, or None when the files already match the last commit.

        On failure the index entries of ``paths`` are put back and GitError is raised; the
        files in the work tree are the caller's to restore.
        """
        author = author.clean()
        tracked = {p for p in self.run("ls-files", "-z", "--", *paths).stdout.split("\0") if p}
        paths = [p for p in paths if p in tracked or (self.top / p).exists()]
        if not paths:
            return None
        saved = self.index_entries(paths)
        try:
            self.run("add", "-A", "--", *paths)
            if not self.run("status", "--porcelain", "--", *paths).stdout.strip():
                return None
            self.run("commit", "--only", "--quiet", "--cleanup=whitespace", "-m", message,
                     f"--author={author.name} <{author.email}>", "--", *paths)
            return self.run("rev-parse", "HEAD").stdout.strip()
        except GitError:
            self.restore_index(paths, saved)
            raise


def work_tree(root: Path, executable: str = "git") -> Path | None:
    """The top folder of the git work tree holding ``root``, or None when it is in none.

    Raises GitError when ``root`` is inside a repository that git cannot use (git missing, or
    refusing the repository, e.g. because another user owns it): saving without a commit
    there would silently leave edits out of the history.
    """
    root = Path(root).resolve()
    in_repo = any((folder / ".git").exists() for folder in (root, *root.parents))
    env = _env(Identity("LMS", "lms@localhost"))
    try:
        result = subprocess.run([executable, "rev-parse", "--show-toplevel"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        if in_repo:
            raise GitError(f"{executable}: {exc}") from None
        return None
    if result.returncode == 0 and result.stdout.strip():
        return Path(result.stdout.strip())
    if in_repo:
        raise GitError(_tail(result.stderr) or "git could not read the repository")
    return None
