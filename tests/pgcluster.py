"""A throwaway PostgreSQL cluster for the test suite.

The cluster lives entirely in a fresh temporary directory (data directory,
server log and Unix socket), listens only on 127.0.0.1 on a free port, trusts
every local connection as superuser ``postgres`` and trades durability for
speed (``fsync=off``).  Stopping it removes the directory, so nothing
survives a test run.

Typical use::

    with PostgresCluster() as pg:
        pg.create_database("lms_test")
        engine = sqlalchemy.create_engine(pg.url("lms_test"))

PostgreSQL refuses to run as root.  When this process is root (as in CI),
initdb and pg_ctl are run as an unprivileged system user (``lmstest``,
created on demand, else ``nobody``) via ``runuser`` or ``setpriv``.

This module imports neither pytest nor SQLAlchemy; psycopg is imported only
by the methods that talk to the server.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

__all__ = ["find_pg_bin", "PostgresCluster"]

_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_TEST_USER = "lmstest"
_FALLBACK_USER = "nobody"
_LOG_TAIL_LINES = 40


def _has_server_programs(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in _SERVER_PROGRAMS)


def _version_key(path: Path) -> tuple:
    """Sort key for /usr/lib/postgresql/<version>/bin: numeric, so 9.6 < 15 < 16."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_pg_bin() -> Path | None:
    """Return the directory holding initdb, pg_ctl and postgres, or None.

    Looked up in this order, the first directory that really holds all three
    executables wins:

    1. ``$PG_BIN`` if set (and then *only* it: a wrong PG_BIN gives None
       rather than silently picking another installation);
    2. ``pg_config --bindir``;
    3. the newest ``/usr/lib/postgresql/<version>/bin`` (Debian/Ubuntu);
    4. the directory of ``initdb`` on ``$PATH`` (symlinks resolved).
    """
    env_bin = os.environ.get("PG_BIN")
    if env_bin:
        path = Path(env_bin).expanduser()
        return path if _has_server_programs(path) else None

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True,
                timeout=10, check=True, stdin=subprocess.DEVNULL,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server_programs(Path(out)):
            return Path(out)

    for path in sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                       key=_version_key, reverse=True):
        if _has_server_programs(path):
            return path

    initdb = shutil.which("initdb")
    if initdb:
        path = Path(initdb).resolve().parent
        if _has_server_programs(path):
            return path
    return None


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged_user() -> pwd.struct_passwd:
    """The account to run the server as when we are root.

    Prefers a dedicated system user ``lmstest`` (created with useradd if
    missing); falls back to ``nobody`` if it cannot be created.
    """
    try:
        return pwd.getpwnam(_TEST_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        subprocess.run(
            [useradd, "--system", "--no-create-home",
             "--shell", "/usr/sbin/nologin", _TEST_USER],
            capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        # Also covers a concurrent process having created it first.
        return pwd.getpwnam(_TEST_USER)
    except KeyError:
        return pwd.getpwnam(_FALLBACK_USER)


class PostgresCluster:
    """A private PostgreSQL server that exists between start() and stop().

    Promises, once start() has returned:

    * the server accepts connections as superuser ``postgres`` without a
      password (trust) on ``127.0.0.1:<port>`` and on a Unix socket in
      ``tmpdir``; the cluster is UTF8 with the C.UTF-8 (else C) locale;
    * everything it writes is under ``tmpdir`` (``data/``, ``postgres.log``);
    * stop() -- called explicitly, by ``with``, or at interpreter exit --
      kills the server (immediate shutdown) and deletes ``tmpdir``.

    Not thread-safe; one instance per process is the intended use.
    """

    host = "127.0.0.1"
    user = "postgres"

    def __init__(self, pg_bin: Path | str | None = None, *,
                 max_connections: int = 200, start_timeout: int = 60):
        """Configure, but do not start, a cluster.

        ``pg_bin`` defaults to find_pg_bin(); if neither finds the server
        programs, start() raises RuntimeError.
        """
        self.pg_bin = Path(pg_bin) if pg_bin else find_pg_bin()
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self._runas: pwd.struct_passwd | None = None
        self._owner_pid: int | None = None
        self._running = False

    # -- paths -----------------------------------------------------------

    @property
    def datadir(self) -> Path:
        """The cluster's data directory (inside tmpdir)."""
        return self._require_tmpdir() / "data"

    @property
    def log_path(self) -> Path:
        """The server log (inside tmpdir)."""
        return self._require_tmpdir() / "postgres.log"

    @property
    def running(self) -> bool:
        """True between a successful start() and stop()."""
        return self._running

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise RuntimeError("PostgresCluster has not been started")
        return self.tmpdir

    # -- connection strings ------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for ``dbname``:
        ``postgresql+psycopg://postgres@127.0.0.1:<port>/<dbname>``."""
        self._require_running()
        return (f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/"
                f"{quote(dbname, safe='')}")

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq/psycopg connection string for ``dbname``."""
        self._require_running()
        from psycopg.conninfo import make_conninfo
        return make_conninfo(host=self.host, port=self.port, user=self.user,
                             dbname=dbname)

    def connect(self, dbname: str = "postgres", **kwargs):
        """A new psycopg connection to ``dbname`` (caller closes it)."""
        import psycopg
        return psycopg.connect(self.conninfo(dbname), **kwargs)

    # -- databases -----------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> None:
        """CREATE DATABASE ``name`` (optionally copied from ``template``).

        PostgreSQL requires the template to have no other open connections.
        """
        from psycopg import sql
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect(autocommit=True) as conn:
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` even if sessions are connected to it.

        Other sessions on it are terminated first; a missing database is not
        an error.
        """
        from psycopg import sql
        with self.connect(autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            query = sql.SQL("DROP DATABASE IF EXISTS {}").format(
                sql.Identifier(name))
            if conn.info.server_version >= 130000:
                query += sql.SQL(" WITH (FORCE)")
            conn.execute(query)

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> "PostgresCluster":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "PostgresCluster":
        """Create the temp dir, initdb and start the server; return self.

        Blocks until the server accepts connections.  On failure everything
        is cleaned up and RuntimeError is raised with the tail of the log.
        """
        if self._running:
            return self
        if self.pg_bin is None or not _has_server_programs(self.pg_bin):
            where = self.pg_bin or "PG_BIN, pg_config, /usr/lib/postgresql, PATH"
            raise RuntimeError(
                "PostgreSQL server programs (initdb, pg_ctl, postgres) not "
                f"found (looked in {where})")

        self._runas = _unprivileged_user() if os.geteuid() == 0 else None
        # Under /tmp (short path: the socket name must fit in ~107 bytes, and
        # /tmp is traversable by the unprivileged user even if $TMPDIR is
        # not).
        base = "/tmp" if os.path.isdir("/tmp") else None
        self.tmpdir = Path(tempfile.mkdtemp(prefix="lms-pg-", dir=base))
        os.chmod(self.tmpdir, 0o755)
        if self._runas is not None:
            os.chown(self.tmpdir, self._runas.pw_uid, self._runas.pw_gid)
        self._owner_pid = os.getpid()
        atexit.register(self.stop)
        try:
            self._initdb()
            # The port is free when chosen but another process may grab it
            # before postgres binds it: retry with a new port in that case.
            for attempt in range(3):
                self.port = _free_port()
                result = self._pg_ctl(
                    "start", "-w", "-t", str(self.start_timeout),
                    "-l", str(self.log_path), "-o", self._server_options())
                if result.returncode == 0:
                    break
                log = self._log_tail()
                if attempt < 2 and ("could not bind" in log
                                    or "already in use" in log):
                    self._kill_postmaster()
                    self.log_path.unlink(missing_ok=True)
                    continue
                raise RuntimeError(
                    f"pg_ctl start failed (exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}\n"
                    f"--- tail of {self.log_path} ---\n{log}")
        except BaseException:
            self._running = True  # let stop() clean up whatever exists
            self.stop()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Kill the server (``pg_ctl stop -m immediate``) and delete tmpdir.

        Idempotent; also registered with atexit.  Does nothing in a forked
        child, so a fork cannot take down its parent's cluster.
        """
        if not self._running or os.getpid() != self._owner_pid:
            return
        self._running = False
        atexit.unregister(self.stop)
        try:
            if (self.datadir / "postmaster.pid").exists():
                try:
                    ok = self._pg_ctl("stop", "-m", "immediate",
                                      "-w").returncode == 0
                except (OSError, subprocess.SubprocessError):
                    ok = False
                if not ok:
                    self._kill_postmaster()
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------

    def _require_running(self) -> None:
        if not self._running:
            raise RuntimeError("PostgresCluster is not running")

    def _server_options(self) -> str:
        opts = {
            "listen_addresses": self.host,
            "port": self.port,
            "unix_socket_directories": self.tmpdir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": self.max_connections,
        }
        # pg_ctl hands -o to /bin/sh, so quote each argument for the shell.
        return " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in opts.items())

    def _initdb(self) -> None:
        common = ["-D", str(self.datadir), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--no-sync"]
        result = self._run("initdb", *common, "--locale=C.UTF-8")
        if result.returncode != 0:
            # No C.UTF-8 locale on this system (e.g. macOS): plain C + UTF8.
            shutil.rmtree(self.datadir, ignore_errors=True)
            result = self._run("initdb", *common, "--no-locale")
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}")

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return self._run("pg_ctl", "-D", str(self.datadir), *args)

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        """Run a server program, as the unprivileged user if we are root."""
        cmd = [str(self.pg_bin / program), *args]
        kwargs = {}
        if self._runas is not None:
            name = self._runas.pw_name
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", name, "--", *cmd]
            elif shutil.which("setpriv"):
                cmd = ["setpriv", f"--reuid={self._runas.pw_uid}",
                       f"--regid={self._runas.pw_gid}", "--init-groups",
                       "--", *cmd]
            else:
                kwargs = {"user": self._runas.pw_uid,
                          "group": self._runas.pw_gid, "extra_groups": []}
        # Keep the caller's PG* variables (PGDATA, PGPORT, ...) away from
        # the server programs; everything they need is on the command line.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return subprocess.run(
            cmd, cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=self.start_timeout + 30,
            **kwargs)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _kill_postmaster(self) -> None:
        """Kill the postmaster named in postmaster.pid, if any.

        SIGQUIT first (immediate shutdown, which also ends the backends),
        SIGKILL if it is still there after 5 s.
        """
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                return
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except OSError:
                    return
                time.sleep(0.05)
