"""Storage of uploaded files, content-addressed by SHA-256, behind a small interface.

An upload streams into an IncomingFile (a temporary file in the storage's ``tmp/`` folder,
hashed while it is written); ``put`` then moves it atomically to its place under its hash.
A database row naming the hash is committed only after ``put`` returned, so a stored file
with no row is at worst garbage for ``gc``, never a row without its file. LocalStorage keeps
the files in one folder; another class with the same methods can replace it when several
app servers share the files.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, Protocol

from flask import Flask, current_app

CHUNK = 1024 * 1024
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


class StoredFile(NamedTuple):
    content_hash: str
    size: int


class Problem(NamedTuple):
    """A referenced file that is ``missing`` or ``corrupt`` (wrong size or wrong hash)."""

    content_hash: str
    size: int
    state: str


class FileMissing(Exception):
    """No stored file has this hash."""


class IncomingFile:
    """A writable temporary file that knows the SHA-256 and size of what was written to it.

    It can be Werkzeug's FileStorage stream: every file-object attribute it does not define
    is delegated to the underlying file. Bytes written sequentially are hashed as they come;
    any other write (after a seek back, ``truncate``) makes the hash be recomputed from disk.
    """

    def __init__(self, directory: str, filename_hint: str | None = None):
        self.filename_hint = filename_hint
        self._file = tempfile.NamedTemporaryFile(dir=directory, prefix="upload-", delete=False)
        self._path = self._file.name
        self._sha = hashlib.sha256()
        self._hashed = 0  # bytes [0, _hashed) went through _sha, in order
        self._dirty = False
        self.placed = False  # set by Storage.put once the file has moved into storage

    def write(self, data) -> int:
        if not self._dirty and self._file.tell() == self._hashed:
            view = memoryview(data)
            self._sha.update(view)
            self._hashed += view.nbytes
        else:
            self._dirty = True
        return self._file.write(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def truncate(self, size: int | None = None) -> int:
        self._dirty = True
        return self._file.truncate(size)

    def __getattr__(self, name: str):
        if name == "_file":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _settle(self) -> None:
        """Flush pending writes; re-hash from disk when the writes were not sequential."""
        if self.placed:  # final: the bytes now live in storage under this hash
            return
        if not self._file.closed:
            self._file.flush()
        if self._dirty or os.path.getsize(self._path) != self._hashed:
            sha, size = _hash_path(self._path)
            self._sha, self._hashed, self._dirty = sha, size, False

    @property
    def path(self) -> str:
        """The temp file (until ``put`` moves it); flushed first, so another reader sees every byte."""
        if not self._file.closed:
            self._file.flush()
        return self._path

    @property
    def content_hash(self) -> str:
        self._settle()
        return self._sha.hexdigest()

    @property
    def size(self) -> int:
        self._settle()
        return self._hashed

    def sync_and_close(self) -> None:
        """Make the written bytes durable (fsync) and close the file; once closed, fsync by path."""
        if self._file.closed:
            _fsync(self._path)
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def discard(self) -> None:
        """Close and remove the temporary file unless it was placed into storage."""
        self._file.close()
        if not self.placed:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass


def _hash_path(path: str):
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha, size


class Storage(Protocol):
    """What the application needs from a file store; hashes are lower-case SHA-256 hex.

    ``put`` takes a finished IncomingFile from ``new_temp`` and makes it visible under its
    hash all at once (or not at all); ``open``, ``size`` and ``modified_at`` raise FileMissing
    for an unknown hash; ``check`` re-hashes the bytes; ``delete`` of a missing file is a no-op.
    """

    def put(self, incoming: IncomingFile) -> StoredFile: ...
    def open(self, content_hash: str) -> BinaryIO: ...
    def exists(self, content_hash: str) -> bool: ...
    def size(self, content_hash: str) -> int: ...
    def hashes(self) -> Iterator[str]: ...
    def check(self, content_hash: str) -> str: ...
    def delete(self, content_hash: str) -> None: ...
    def modified_at(self, content_hash: str) -> float: ...
    def new_temp(self, filename_hint: str | None = None) -> IncomingFile: ...
    def clean_temp(self, older_than_seconds: float) -> int: ...


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: str) -> None:
    """Create ``path`` and missing parents, making each new directory entry durable."""
    if os.path.isdir(path):
        return
    _make_dirs(os.path.dirname(path))
    try:
        os.mkdir(path, 0o750)
    except FileExistsError:
        return
    _fsync(os.path.dirname(path))


class LocalStorage(Storage):
    """Files in a local (or mounted) folder: ``objects/ab/cd/<hash>`` and ``tmp/``."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.objects = os.path.join(self.root, "objects")
        self.tmp = os.path.join(self.root, "tmp")

    def _path(self, content_hash: str) -> str:
        if not HASH_RE.match(content_hash or ""):
            raise ValueError(f"not a SHA-256 hex digest: {content_hash!r}")
        return os.path.join(self.objects, content_hash[:2], content_hash[2:4], content_hash)

    def new_temp(self, filename_hint: str | None = None) -> IncomingFile:
        """An empty IncomingFile in ``tmp/``, on the same filesystem as the stored files."""
        _make_dirs(self.tmp)
        return IncomingFile(self.tmp, filename_hint)

    def put(self, incoming: IncomingFile) -> StoredFile:
        """Place the finished upload under its hash, durably; the temp file is gone afterwards.

        The final path only ever holds a complete file (it appears by an atomic rename).
        When the hash is already stored the upload is dropped and the stored file's mtime is
        refreshed, so that ``gc`` leaves it alone while the row that will name it commits.
        """
        stored = StoredFile(incoming.content_hash, incoming.size)
        target = self._path(stored.content_hash)
        try:
            if os.path.getsize(target) == stored.size:
                os.utime(target)
                incoming.discard()
                return stored
        except FileNotFoundError:
            pass
        incoming.sync_and_close()  # the bytes reach the disk before the name that shows them
        os.chmod(incoming.path, 0o640)
        _make_dirs(os.path.dirname(target))
        os.replace(incoming.path, target)
        incoming.placed = True
        _fsync(os.path.dirname(target))
        return stored

    def open(self, content_hash: str) -> BinaryIO:
        """The stored bytes, opened for reading; FileMissing when they are not there."""
        try:
            return open(self._path(content_hash), "rb")
        except FileNotFoundError:
            raise FileMissing(content_hash) from None

    def exists(self, content_hash: str) -> bool:
        return os.path.isfile(self._path(content_hash))

    def _stat(self, content_hash: str) -> os.stat_result:
        try:
            return os.stat(self._path(content_hash))
        except FileNotFoundError:
            raise FileMissing(content_hash) from None

    def size(self, content_hash: str) -> int:
        return self._stat(content_hash).st_size

    def modified_at(self, content_hash: str) -> float:
        return self._stat(content_hash).st_mtime

    def hashes(self) -> Iterator[str]:
        """Every stored hash (files under ``objects/`` that are not named by a hash are skipped)."""
        for directory, _dirs, files in os.walk(self.objects):
            for name in files:
                if HASH_RE.match(name) and directory == os.path.dirname(self._path(name)):
                    yield name

    def check(self, content_hash: str) -> str:
        """``ok``, ``missing``, or ``corrupt`` when the bytes no longer hash to their name."""
        try:
            sha, _size = _hash_path(self._path(content_hash))
        except FileNotFoundError:
            return "missing"
        return "ok" if sha.hexdigest() == content_hash else "corrupt"

    def delete(self, content_hash: str) -> None:
        try:
            os.unlink(self._path(content_hash))
        except FileNotFoundError:
            pass

    def clean_temp(self, older_than_seconds: float) -> int:
        """Remove temp files untouched for ``older_than_seconds``; returns how many."""
        cutoff, removed = time.time() - older_than_seconds, 0
        try:
            entries = list(os.scandir(self.tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


def init_app(app: Flask) -> None:
    """Bind the storage chosen by ``LMS_STORAGE`` (only ``local`` so far) to the app."""
    kind = app.config.get("LMS_STORAGE", "local")
    if kind != "local":
        raise RuntimeError(f"LMS_STORAGE={kind!r} is not a known storage backend (known: 'local')")
    app.extensions["lms_storage"] = LocalStorage(app.config["LMS_UPLOAD_DIR"])


def get_storage() -> Storage:
    """The current app's storage."""
    return current_app.extensions["lms_storage"]


def verify(storage: Storage, referenced: Iterable[tuple[str, int]]) -> list[Problem]:
    """Re-read every referenced file; one Problem per file that is missing or not as recorded."""
    problems = []
    for content_hash, size in referenced:
        try:
            state = "corrupt" if storage.size(content_hash) != size else storage.check(content_hash)
        except (FileMissing, ValueError):  # ValueError: a malformed hash names no file
            state = "missing"
        if state != "ok":
            problems.append(Problem(content_hash, size, state))
    return problems


def gc(storage: Storage, referenced: set[str], grace_seconds: float = 3600,
       dry_run: bool = False) -> list[str]:
    """Delete stored files no row refers to and temp files, both older than the grace period.

    The grace period protects an upload whose row is not committed yet. Returns the hashes
    removed (or, with ``dry_run``, that would be removed; then nothing is deleted).
    """
    cutoff, removed = time.time() - grace_seconds, []
    for content_hash in list(storage.hashes()):
        if content_hash in referenced:
            continue
        try:
            if storage.modified_at(content_hash) >= cutoff:
                continue
        except FileMissing:
            continue
        if not dry_run:
            storage.delete(content_hash)
        removed.append(content_hash)
    if not dry_run:
        storage.clean_temp(grace_seconds)
    return removed
