"""Database engine set-up that differs per backend."""
from __future__ import annotations

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


def _begin_sqlite(conn) -> None:
    """Begin SQLite transactions ourselves: IMMEDIATE for writes, deferred for reads.

    A deferred transaction that reads and then writes can fail at once with "database is
    locked" when another worker wrote in between, whatever the busy timeout; taking the write
    lock up front makes writers queue instead. Reads stay deferred so that they never wait.
    """
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


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
