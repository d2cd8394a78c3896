"""Alembic migrations: one head, they match the models, and they go up and down. Both databases."""
from __future__ import annotations

import itertools
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from lms import create_app
from lms.extensions import db, migrate

_n = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    """An app on a database with no tables at all."""
    if request.param == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'm.sqlite3'}", None
    else:
        cluster = request.getfixturevalue("pg_cluster")
        if cluster is None:
            pytest.skip("PostgreSQL binaries not found (required in CI)")
        name = f"lms_migrations_{os.getpid()}_{next(_n)}"
        cluster.create_database(name)
        url, cleanup = cluster.url(name), lambda: cluster.drop_database(name)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "i"), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if cleanup:
        cleanup()


def test_single_head(empty_app):
    """Branches in the migration history must be merged before they land."""
    config = migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_matches_the_models_and_downgrades(empty_app):
    """After ``db upgrade`` the schema equals the models (no drift); ``db downgrade base`` removes it all."""
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {"courses", "lessons", "assignments", "content_versions", "users"} <= tables
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
