"""The application factory and its configuration."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from lms import create_app
from lms.config import ConfigError, load_config
from lms.extensions import db


def test_testing_config_overrides(tmp_path):
    """Settings passed to create_app win over the environment."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "i"), "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.testing and (tmp_path / "i").is_dir()


def test_defaults_keep_runtime_files_in_the_instance_folder(tmp_path):
    """Database, uploads and the development secret live in the instance folder."""
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'lms.sqlite3'}"
    assert config["LMS_UPLOAD_DIR"] == str(tmp_path / "uploads")
    assert config["LMS_CONTENT_DIR"].endswith("content")
    assert len(config["SECRET_KEY"]) == 64
    assert load_config(str(tmp_path), environ={})["SECRET_KEY"] == config["SECRET_KEY"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not config["SESSION_COOKIE_SECURE"]


def test_environment_variables_are_read(tmp_path):
    """DATABASE_URL (postgres:// too), LMS_CONTENT_DIR, LMS_UPLOAD_DIR and SECRET_KEY come from the environment."""
    config = load_config(str(tmp_path), environ={
        "DATABASE_URL": "postgres://u@db/lms", "LMS_CONTENT_DIR": "/srv/content",
        "LMS_UPLOAD_DIR": "/srv/uploads", "SECRET_KEY": "s3cret"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/lms"
    assert (config["LMS_CONTENT_DIR"], config["LMS_UPLOAD_DIR"], config["SECRET_KEY"]) == (
        "/srv/content", "/srv/uploads", "s3cret")


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    """No development default in production."""
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), environ={"LMS_ENV": "production"})
    config = load_config(str(tmp_path), environ={"LMS_ENV": "production", "SECRET_KEY": "k"})
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    """Several gunicorn workers can share the SQLite file."""
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_importing_the_package_has_no_side_effects(tmp_path):
    """``import lms`` and create_app open no database connection."""
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'never.db'}"})
    assert app is not None and not (tmp_path / "never.db").exists()


def test_lazy_translations_are_printed_as_text_not_markup():
    """A lazy message that interpolates user input (a file name, say) is escaped like any string,
    with or without ``|string`` (LazyString has ``__html__``, which Jinja would otherwise trust)."""
    from flask import render_template_string
    from flask_babel import lazy_gettext

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    message = lazy_gettext("%(name)s is not an image.", name='<img src=x onerror="alert(1)">')
    with app.test_request_context("/"):
        page = render_template_string("<p>{{ m }}</p><p>{{ m|string }}</p>", m=message)
    assert "<img" not in page and page.count("&lt;img src=x onerror=&#34;alert(1)&#34;&gt;") == 2


def test_a_gunicorn_worker_compiles_every_template_and_freezes_what_it_loaded(tmp_path):
    """gunicorn.conf.py's post_worker_init: the templates are compiled before the first request,
    and the loaded app is out of the garbage collector's full collections (gc.freeze)."""
    import gc
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "i"), "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    settings = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    assert settings["workers"] >= 2 and settings["keepalive"] == 0
    gc.unfreeze()
    try:
        settings["post_worker_init"](SimpleNamespace(wsgi=app))
        assert gc.get_freeze_count() > 10_000
        cache = app.jinja_env.cache
        names = {key[1] for key in cache.keys()}
        assert {"base.html", "audit/log.html", "grade/gradebook.html", "auth/reset_email.txt"} <= names
        assert len(names) == len(app.jinja_env.list_templates())
    finally:
        gc.unfreeze()
