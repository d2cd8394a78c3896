"""Settings read from environment variables, with safe defaults.

| variable          | default                                   |
|-------------------|-------------------------------------------|
| LMS_ENV           | ``development`` (``production``, ``testing``) |
| DATABASE_URL      | SQLite file ``lms.sqlite3`` in the instance folder |
| LMS_CONTENT_DIR   | ``./content``                             |
| LMS_UPLOAD_DIR    | ``uploads/`` in the instance folder       |
| LMS_STORAGE       | ``local``: submitted files in LMS_UPLOAD_DIR |
| SECRET_KEY        | required in production; elsewhere a key generated once into the instance folder |
| LMS_TIMEZONE      | ``Asia/Shanghai``                         |
| LMS_GIT_COMMITTER_NAME, _EMAIL | ``LMS`` / ``lms@localhost``: committer of the browser editor's commits |
| LMS_BASE_URL      | unset: links in e-mails use the request's host (set it in production) |
| LMS_PROXY_COUNT   | ``0``: number of reverse proxies whose X-Forwarded-* headers to trust |
| MAIL_SERVER etc.  | unset: mail goes to ``outbox/`` in the instance folder |
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment does not allow the application to start safely."""


def _normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` and ``postgresql://`` forms and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder so that every worker and restart shares it."""
    key_file = instance_path / "dev-secret-key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        tmp = key_file.with_suffix(".tmp")
        tmp.write_text(key)
        os.chmod(tmp, 0o600)
        os.replace(tmp, key_file)
        return key_file.read_text().strip()


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict:
    """Return the configuration mapping for an app whose instance folder is ``instance_path``.

    Raises ConfigError when running in production without a SECRET_KEY.
    """
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    lms_env = env.get("LMS_ENV", "development").strip().lower() or "development"
    production = lms_env == "production"

    secret_key = env.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY must be set when LMS_ENV=production "
                "(for example: export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))'))"
            )
        secret_key = _dev_secret_key(instance)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'lms.sqlite3'}"
    database_url = _normalise_database_url(database_url)

    return {
        "LMS_ENV": lms_env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "LMS_CONTENT_DIR": os.path.abspath(env.get("LMS_CONTENT_DIR", "content")),
        "LMS_UPLOAD_DIR": os.path.abspath(env.get("LMS_UPLOAD_DIR") or instance / "uploads"),
        "LMS_STORAGE": env.get("LMS_STORAGE", "local"),
        "LMS_TIMEZONE": env.get("LMS_TIMEZONE", "Asia/Shanghai"),
        "LMS_MAX_ASSET_MB": int(env.get("LMS_MAX_ASSET_MB", "20")),
        "LMS_PAGE_CACHE_MB": float(env.get("LMS_PAGE_CACHE_MB", "64")),
        "LMS_PAGE_CACHE_SECONDS": float(env.get("LMS_PAGE_CACHE_SECONDS", "60")),
        "LMS_GIT_COMMITTER_NAME": env.get("LMS_GIT_COMMITTER_NAME", "LMS"),
        "LMS_GIT_COMMITTER_EMAIL": env.get("LMS_GIT_COMMITTER_EMAIL", "lms@localhost"),
        "MAX_CONTENT_LENGTH": int(env.get("LMS_MAX_REQUEST_MB", "300")) * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LMS_LANGUAGES": ["zh_CN", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
        "LMS_BASE_URL": env.get("LMS_BASE_URL"),
        "LMS_PROXY_COUNT": int(env.get("LMS_PROXY_COUNT", "0")),
        "MAIL_SERVER": env.get("MAIL_SERVER"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "587")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "true").lower() != "false",
        "MAIL_FROM": env.get("MAIL_FROM", "Student Engineer Courses <no-reply@localhost>"),
    }
