"""Tests for tests/pgcluster.py, the throwaway PostgreSQL cluster."""

import os

import psycopg
import pytest

try:  # works whether or not tests/ is a package
    from tests.pgcluster import PostgresCluster, find_pg_bin
except ImportError:
    from pgcluster import PostgresCluster, find_pg_bin

pytestmark = pytest.mark.postgres


def _require_pg_bin():
    """Return the PostgreSQL bin dir; skip without it, but fail in CI."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        message = ("PostgreSQL server programs (initdb, pg_ctl, postgres) not "
                   "found via PG_BIN, pg_config, /usr/lib/postgresql/*/bin "
                   "or PATH")
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {message}",
                        pytrace=False)
        pytest.skip(f"{message}; install postgresql or set PG_BIN")
    return pg_bin


def test_cluster_round_trip_and_cleanup():
    """A database on the cluster stores and returns Chinese text; stop() removes everything."""
    cluster = PostgresCluster(_require_pg_bin())
    with cluster:
        tmpdir = cluster.tmpdir
        assert tmpdir.is_dir()
        assert cluster.url("lms_t") == (
            f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/lms_t")

        cluster.create_database("lms_t")
        with psycopg.connect(cluster.conninfo("lms_t")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.info.encoding == "utf-8"
            conn.execute("create table lesson (id serial primary key,"
                         " title text not null)")
            conn.execute("insert into lesson (title) values (%s), (%s)",
                         ("厦门大学 软件工程", "学生工程师：第一课"))
            conn.commit()
            rows = conn.execute(
                "select title from lesson order by id").fetchall()
            assert rows == [("厦门大学 软件工程",), ("学生工程师：第一课",)]

        # A connection left open must not block the drop.
        lingering = psycopg.connect(cluster.conninfo("lms_t"))
        cluster.drop_database("lms_t")
        lingering.close()
        with cluster.connect() as conn:
            assert conn.execute("select count(*) from pg_database"
                                " where datname = 'lms_t'").fetchone() == (0,)
        cluster.drop_database("lms_t")  # a missing database is not an error

    assert not cluster.running
    assert not tmpdir.exists()
    cluster.stop()  # stopping twice is harmless


def test_template_copy_and_explicit_start_stop():
    """start()/stop() without `with`; create_database(template=...) copies a database."""
    cluster = PostgresCluster(_require_pg_bin()).start()
    tmpdir = cluster.tmpdir
    try:
        cluster.create_database("lms_tpl")
        with cluster.connect("lms_tpl") as conn:
            conn.execute("create table t (v text)")
            conn.execute("insert into t values ('模板')")
        cluster.create_database("lms_copy", template="lms_tpl")
        with cluster.connect("lms_copy") as conn:
            assert conn.execute("select v from t").fetchall() == [("模板",)]
        cluster.drop_database("lms_copy")
        cluster.drop_database("lms_tpl")
    finally:
        cluster.stop()
    assert not tmpdir.exists()
    cluster.stop()
