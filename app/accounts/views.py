"""Signup, magic links, sign-in, /me. Thin: forms in, one service call, a page out."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from app import links
from app.accounts import service
from app.accounts.auth import current_person, login_required, sign_in, sign_out
from app.accounts.errors import TokenInvalid
from app.accounts.forms import (
    ChampionPreferencesForm,
    ContinueForm,
    DeleteForm,
    LoginForm,
    LogoutForm,
    PreferencesForm,
    SignupForm,
    normalise_email,
)
from app.extensions import db, limiter
from app.outbox import service as outbox

bp = Blueprint("accounts", __name__)


def _address_key() -> str:
    """Rate-limit key for the address typed into a form (known or not alike)."""
    raw = request.form.get("email", "")
    try:
        return "address:" + normalise_email(raw)
    except ValueError:
        return "address:" + raw.strip().lower()[:254]


def _ip_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_IP"]


def _address_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_PER_ADDRESS"]


# Shared by signup and sign-in: both send an email, so both count.
auth_per_ip = limiter.shared_limit(_ip_limit, scope="auth-ip", methods=["POST"])
auth_per_address = limiter.shared_limit(
    _address_limit, scope="auth-address", methods=["POST"], key_func=_address_key
)


@bp.get("/")
def home():
    return render_template("home.html")


@bp.route("/signup", methods=["GET", "POST"])
@auth_per_ip
@auth_per_address
def signup():
    form = SignupForm()
    if request.method == "GET":
        return render_template("accounts/signup.html", form=form)
    if not form.validate_on_submit():
        return render_template("accounts/signup.html", form=form), 422
    service.request_signup(form.data)
    db.session.commit()
    outbox.enqueue_new()
    return render_template("accounts/check_your_email.html", email=form.email.data)


@bp.route("/login", methods=["GET", "POST"])
@auth_per_ip
@auth_per_address
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = links.safe_next(request.args.get("next")) or ""
        return render_template("accounts/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), 422
    service.request_login(form.email.data, links.safe_next(form.next.data))
    db.session.commit()
    outbox.enqueue_new()
    return render_template("accounts/check_your_email.html", email=form.email.data)


@bp.get("/auth/<token>")
def continue_page(token: str):
    """Shows a button; a GET (a link scanner, a prefetch, HEAD) never uses the link."""
    try:
        login_token = service.peek_token(token)
    except TokenInvalid as error:
        return render_template("accounts/link_invalid.html", reason=str(error), form=LoginForm()), 410
    return render_template(
        "accounts/continue.html", form=ContinueForm(), purpose=login_token.purpose
    )


@bp.post("/auth/<token>")
def continue_post(token: str):
    form = ContinueForm()
    if not form.validate_on_submit():
        return render_template(
            "accounts/link_invalid.html",
            reason="Your browser did not send the form's security token. Please open the link again.",
            form=LoginForm(),
        ), 400
    try:
        person, next_path = service.consume_token(token)
    except TokenInvalid as error:
        db.session.rollback()
        return render_template("accounts/link_invalid.html", reason=str(error), form=LoginForm()), 410
    db.session.commit()
    outbox.enqueue_new()
    sign_in(person)
    return redirect(links.safe_next(next_path) or url_for("accounts.me"))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    if request.method == "GET":
        return render_template("accounts/logout.html", form=form, person=current_person())
    if not form.validate_on_submit():
        return render_template("accounts/logout.html", form=form, person=current_person()), 400
    sign_out()
    flash("You are signed out. See you soon.")
    return redirect(url_for("accounts.login"))


@bp.route("/me", methods=["GET", "POST"])
@login_required
def me():
    person = current_person()
    form = (ChampionPreferencesForm if person.is_champion else PreferencesForm)(obj=person)
    if request.method == "GET" and person.organisation is not None and person.is_champion:
        form.organisation.data = person.organisation.name
        form.organisation_kind.data = person.organisation.kind
        form.organisation_size.data = person.organisation.size
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("accounts/me.html", form=form, person=person), 422
        service.update_preferences(person, form.data)
        db.session.commit()
        flash("Your details are saved.")
        return redirect(url_for("accounts.me"))
    return render_template("accounts/me.html", form=form, person=person)


@bp.get("/me/data.json")
@login_required
def my_data():
    body = json.dumps(service.export_data(current_person()), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="hearth-my-data.json"'},
    )


@bp.route("/me/delete", methods=["GET", "POST"])
@login_required
def delete_me():
    person = current_person()
    form = DeleteForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("accounts/delete.html", form=form), 422
        if form.confirm_email.data.strip().lower() != person.email:
            form.confirm_email.errors.append("That is not the address of this account.")
            return render_template("accounts/delete.html", form=form), 422
        service.delete_account(person.id)
        db.session.commit()
        sign_out()
        return render_template("accounts/deleted.html")
    return render_template("accounts/delete.html", form=form)
