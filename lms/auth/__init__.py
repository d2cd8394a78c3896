"""Signing in (Flask-Login)."""
from flask import Flask

from ..extensions import db, login_manager


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        from ..models import User

        return db.session.get(User, int(user_id)) if user_id.isdigit() else None
