"""The LMS application factory."""
from __future__ import annotations

import os

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Create and configure an app: configuration, extensions, blueprints, CLI.

    ``config`` overrides settings read from the environment (tests pass their own database,
    content folder and instance folder). Nothing here touches the database.
    """
    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get("LMS_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path and os.path.abspath(instance_path),
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)

    from .config import load_config

    app.config.from_mapping(load_config(app.instance_path))
    app.config.update(config)
    if app.config["LMS_PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["LMS_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from . import db_setup, errors, httpcache, i18n, security, static_files, templating
    from .extensions import csrf, db, migrate

    db.init_app(app)
    db_setup.init_app(app)
    migrations = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "migrations"))
    migrate.init_app(app, db, directory=migrations, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    static_files.init_app(app)
    httpcache.init_app(app)
    from . import uploads
    from .services import storage
    storage.init_app(app)
    app.request_class = uploads.UploadRequest

    from . import models  # noqa: F401  (register the tables with SQLAlchemy)
    from .auth import init_app as init_auth
    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .catalog import bp as catalog_bp
    from .editor import bp as editor_bp
    from .grade import bp as grade_bp
    from .health import bp as health_bp
    from .learn import bp as learn_bp
    from .submit import bp as submit_bp

    init_auth(app)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(learn_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(submit_bp)
    app.register_blueprint(grade_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(editor_bp)

    from .cli import register_cli

    register_cli(app)
    return app


def settle_worker(app: Flask) -> int:
    """Prepare a server process that has just loaded ``app`` (gunicorn.conf.py's ``post_worker_init``).

    Every template is compiled now rather than at its first request, and then everything the
    process holds is moved out of the cyclic garbage collector's reach (``gc.freeze``): the app,
    its routes, models, compiled templates and translations live as long as the process, and a
    full collection went through all of them, about 140,000 objects, in some 50 ms, on a request
    that then answered that much later. Afterwards a full collection looks only at what requests
    made. Returns the number of templates compiled.
    """
    import gc

    compiled = 0
    with app.app_context():
        for name in app.jinja_env.list_templates(extensions=("html", "txt")):
            app.jinja_env.get_template(name)
            compiled += 1
    gc.collect()
    gc.freeze()
    return compiled
