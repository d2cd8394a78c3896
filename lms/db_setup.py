"""Database engine set-up that differs per backend."""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _configure_sqlite(dbapi_connection, _record) -> None:
    """WAL lets readers run beside one writer; the busy timeout makes writers queue, not fail."""
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite), as the pysqlite docs recommend.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


WRITE_OPTION = "lms_write"


_QUEUE_FILE, _IN_QUEUE = "lms_writers_file", "lms_writing"
_queued = threading.local()  # .info: the connection info of this thread's place in the queue, if any


def _writers_queue(conn):
    """The file whose lock write transactions take before SQLite's (None for an in-memory database)."""
    info = conn.info
    if _QUEUE_FILE not in info:
        database = conn.engine.url.database
        info[_QUEUE_FILE] = (None if not database or database == ":memory:" or database.startswith("file:")
                             else open(f"{os.path.abspath(database)}-writers", "a+b"))
    return info[_QUEUE_FILE]


def _begin_sqlite(conn) -> None:
    """Begin SQLite transactions ourselves: IMMEDIATE for writes, deferred for reads.

    A deferred transaction that reads and then writes can fail at once with "database is
    locked" when another worker wrote in between, whatever the busy timeout; taking the write
    lock up front makes writers queue instead. Reads stay deferred so that they never wait.

    Writers queue on a lock of the file ``<database>-writers`` first (``flock``; every worker
    process and thread of the app has its own handle on it). SQLite's busy timeout makes a
    waiting writer poll with growing sleeps, up to 100 ms each, so under a steady stream of
    writes an unlucky one kept losing the lock to newcomers (p95 of an upload was ten times its
    median); the kernel wakes a waiter as soon as the lock is free. Processes that do not queue
    (``flask content sync``, a migration) still meet the busy timeout.
    """
    if conn.get_execution_options().get(WRITE_OPTION):
        queue = _writers_queue(conn)
        holder = getattr(_queued, "info", None)
        if queue is not None and not (holder is not None and holder.get(_IN_QUEUE)):  # never wait on itself
            fcntl.flock(queue, fcntl.LOCK_EX)
            conn.info[_IN_QUEUE] = True
            _queued.info = conn.info
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(conn)
            raise
    else:
        conn.exec_driver_sql("BEGIN")


def _leave_queue(conn, *_args) -> None:
    """At the end of a write transaction (just before its COMMIT or ROLLBACK, which SQLite
    finishes in microseconds in WAL mode), let the next writer in."""
    info = conn.info if hasattr(conn, "info") else None
    if info is not None and info.pop(_IN_QUEUE, False):
        fcntl.flock(info[_QUEUE_FILE], fcntl.LOCK_UN)


def _leave_queue_on_reset(_dbapi_connection, record, _reset_state) -> None:
    """A connection returned to the pool with its transaction still open leaves the queue too."""
    _leave_queue(record)


def begin_write() -> None:
    """Mark the session's next transaction as a write transaction.

    Call it before the first query of a unit of work that will write. On SQLite it takes the
    write lock at BEGIN; on PostgreSQL it changes nothing. A read transaction already open with
    no pending changes is ended first, so that the write lock can be taken: by a rollback, or
    inside ``keeping_loaded()`` by a commit, which expires nothing.
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return
        if session.expire_on_commit:
            session.rollback()
        else:
            session.commit()  # nothing to write: this only ends the read snapshot
    session.connection(execution_options={WRITE_OPTION: True})


@contextmanager
def keeping_loaded() -> Iterator:
    """Commits inside leave the objects the request already loaded as they are, so that nothing
    is read again after a write (the page's course and lessons, the redirect's attempt, the user)."""
    session = db.session()
    saved, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield session
    finally:
        session.expire_on_commit = saved


def init_app(app: Flask) -> None:
    """Attach per-backend connection set-up to the app's engine when it is created."""
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _configure_sqlite)
            event.listen(engine, "begin", _begin_sqlite)
            event.listen(engine, "commit", _leave_queue)
            event.listen(engine, "rollback", _leave_queue)
            event.listen(engine.pool, "reset", _leave_queue_on_reset)
