"""Thin views over lms.services.accounts."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..services import accounts
from ..services.mail import send_mail
from ..urls import safe_next
from . import bp
from .forms import LoginForm, LogoutForm, PasswordChangeForm, RegisterForm, ResetForm, ResetRequestForm, SettingsForm


def _home_for(user) -> str:
    return url_for("learn.dashboard") if user.role == "student" else url_for("catalog.index")


def _fresh_session() -> None:
    """Drop everything from the session except the chosen interface language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _sign_in(user) -> None:
    """Sign in on a fresh session, so nothing planted before sign-in survives (no fixation)."""
    _fresh_session()
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, request.remote_addr or "unknown")
        except accounts.Throttled as exc:
            flash(str(exc.message), "error")
            status = 429
        except accounts.AccountError as exc:
            flash(str(exc.message), "error")
            status = 401
        else:
            _sign_in(user)
            return redirect(safe_next(form.next.data, _home_for(user)))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = RegisterForm()
    if request.method == "GET":
        form.language.data = session.get("lang") or str(get_locale() or "zh_CN")
    if form.validate_on_submit():
        try:
            user = accounts.register_student(email=form.email.data, name=form.name.data,
                                             password=form.password.data, locale=form.language.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field or "email").errors.append(str(exc.message))
        else:
            _sign_in(user)
            flash(_("Welcome, %(name)s! Your account is ready.", name=user.name), "success")
            return redirect(url_for("learn.dashboard"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        _fresh_session()
        flash(_("You have signed out."), "info")
    return redirect(url_for("catalog.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field or "password").errors.append(str(exc.message))
        else:
            _sign_in(current_user._get_current_object())
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("auth.password"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status


@bp.route("/reset", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = accounts.find_user(form.email.data)
        if user is not None and user.active:
            token = accounts.make_reset_token(user, current_app.config["SECRET_KEY"])
            base = current_app.config.get("LMS_BASE_URL")
            # A configured base URL keeps a forged Host header out of the link.
            link = base.rstrip("/") + url_for("auth.reset", token=token) if base else \
                url_for("auth.reset", token=token, _external=True)
            body = render_template("auth/reset_email.txt", user=user, link=link)
            send_mail(current_app.config, current_app.instance_path, to=user.email,
                      subject=_("Reset your password"), body=body)
        # The same answer whether or not the account exists: no account discovery.
        flash(_("If an account exists for that address, we have sent it a link to reset the password. "
                "The link works once, for one hour."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    secret = current_app.config["SECRET_KEY"]
    try:
        accounts.user_for_reset_token(token, secret)
    except accounts.AccountError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("auth.reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data, secret)
        except accounts.AccountError as exc:
            form.password.errors.append(str(exc.message))
        else:
            flash(_("Your password has been reset. Please sign in."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    user = current_user._get_current_object()
    form = SettingsForm(obj=None if request.method == "POST" else user,
                        data=None if request.method == "POST" else {"language": user.locale or str(get_locale() or "zh_CN")})
    if form.validate_on_submit():
        try:
            accounts.update_settings(user, name=form.name.data, locale=form.language.data, timezone=form.timezone.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field or "name").errors.append(str(exc.message))
        else:
            session["lang"] = form.language.data
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("auth.settings"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/settings.html", form=form), status
