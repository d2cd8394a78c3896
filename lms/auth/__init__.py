"""Signing in and out, registration, password change and reset (Flask-Login)."""
from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

from ..extensions import db, login_manager

bp = Blueprint("auth", __name__, url_prefix="/auth")


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        from ..models import User

        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    from . import routes  # noqa: F401

    app.register_blueprint(bp)
