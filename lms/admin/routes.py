"""Thin admin views over lms.services.accounts and lms.services.content."""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import ROLES, SyncRun, User
from ..permissions import role_required
from ..services import accounts
from ..services import audit as audit_svc
from ..services.content import sync_tree
from ..services.content.status import read_status, write_status
from . import bp
from .forms import ActiveForm, EnableForm, NewUserForm, RoleForm, SyncForm


@bp.before_request
@role_required("admin")
def _admins_only():
    """Every admin route is for admins only."""
    return None


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users():
    query = request.args.get("q", "").strip()
    role = request.args.get("role") or None
    page = request.args.get("page", 1, type=int)
    pagination = accounts.search_users(query, role, page=max(page, 1))
    return render_template("admin/users.html", pagination=pagination, q=query, role=role, roles=ROLES)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    user = _user_or_404(user_id)
    role_form = RoleForm(role=user.role, company=user.company, audits_all=user.audits_all)
    if role_form.validate_on_submit():
        if user.id == current_user.id and role_form.role.data != "admin":
            flash(_("You cannot remove your own admin role."), "error")
        else:
            try:
                accounts.set_role(user, role_form.role.data, role_form.company.data,
                                  audits_all=role_form.audits_all.data, actor=current_user._get_current_object())
            except accounts.AccountError as exc:
                flash(str(exc.message), "error")
            else:
                flash(_("Role saved."), "success")
                return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/user.html", user=user, role_form=role_form, disable_form=ActiveForm(),
                           enable_form=EnableForm())


@bp.post("/users/<int:user_id>/disable")
def disable(user_id: int):
    user = _user_or_404(user_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash(_("You cannot disable your own account."), "error")
    else:
        accounts.set_active(user, False, actor=current_user._get_current_object())
        flash(_("The account is disabled."), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/enable")
def enable(user_id: int):
    user = _user_or_404(user_id)
    if not EnableForm().validate_on_submit():
        abort(400)
    accounts.set_active(user, True, actor=current_user._get_current_object())
    flash(_("The account is enabled."), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(email=form.email.data, name=form.name.data, password=form.password.data,
                                        role=form.role.data, company=form.company.data,
                                        audits_all=form.audits_all.data, actor=current_user._get_current_object())
        except accounts.AccountError as exc:
            getattr(form, exc.field or "email").errors.append(str(exc.message))
        else:
            flash(_("Account created for %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.user", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/new_user.html", form=form), status


@bp.route("/content", methods=["GET", "POST"])
def content():
    form = SyncForm()
    if form.validate_on_submit():
        root = Path(current_app.config["LMS_CONTENT_DIR"])
        result = sync_tree(root, max_asset_mb=current_app.config["LMS_MAX_ASSET_MB"])
        summary = {"created": len(result.created), "updated": len(result.updated), "retired": len(result.retired),
                   "rendered": result.rendered}
        write_status(current_app.instance_path, root, result.ok, summary, result.errors)
        if result.errors:
            flash(_("The sync failed with %(count)d error(s); nothing was changed.", count=len(result.errors)), "error")
        elif result.changed:
            flash(_("Content synced: %(created)d created, %(updated)d updated, %(retired)d retired.", **{
                k: summary[k] for k in ("created", "updated", "retired")}), "success")
        else:
            flash(_("Content is up to date: nothing changed."), "info")
        return redirect(url_for("admin.content"))
    runs = db.session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc()).limit(10)).all()
    return render_template("admin/content.html", form=form, runs=runs, status=read_status(current_app.instance_path),
                           content_dir=current_app.config["LMS_CONTENT_DIR"])


@bp.get("/audit")
def audit_log():
    group = request.args.get("group") or None
    actor = (request.args.get("actor") or "").strip() or None
    rows, older = audit_svc.entries(group=group, actor_email=actor, before=request.args.get("before", type=int))
    seq, digest = audit_svc.head()
    return render_template("admin/audit.html", rows=rows, older=older, group=group, actor=actor,
                           groups=audit_svc.ACTION_GROUPS, head_seq=seq, head_hash=digest)
