"""Flask extensions, created without an app and bound in ``create_app``."""
from flask import session
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names make Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


class SessionLoginManager(LoginManager):
    """Flask-Login with "strong" session protection applied to signed-in sessions only.

    Flask-Login compares the session's client identifier with the request's on every request
    whose session is not empty. An anonymous visitor's session (a CSRF secret, a language)
    has no identifier, so every one of their requests "failed" the check: the session was
    rewritten and a cookie-clearing header sent on each page. A session without a signed-in
    user has nothing to protect; a signed-in one is still checked and cleared on a mismatch.
    """

    def _session_protection_failed(self):
        if "_user_id" not in session:
            return False
        return super()._session_protection_failed()


login_manager = SessionLoginManager()
babel = Babel()
csrf = CSRFProtect()
