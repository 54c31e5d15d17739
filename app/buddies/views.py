"""Buddy pages: apply, confirm, proposals and pairings (by signed link, no
sign-in needed), the consultants list, and the coordinators' pages under
/admin. Thin: a form in, one service call, a page out. No GET changes state."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app import clock
from app.accounts.auth import coordinator_required, current_person, login_required, sign_in
from app.accounts.errors import TokenInvalid
from app.accounts.models import LANGUAGES, ORGANISATION_KINDS
from app.accounts.views import auth_per_address, auth_per_ip
from app.buddies import applications, overview, programme, qualification, service
from app.buddies.errors import BuddyError, PairNotFound, TooLateToObject
from app.buddies.forms import (
    AutoMatchingForm,
    ContinueForm,
    CoordinatorEndForm,
    EndPairForm,
    JoinForm,
    ObjectForm,
    OverrideForm,
    PersonActionForm,
    ProfileForm,
    ProposeForm,
    ResolveForm,
)
from app.extensions import db
from app.outbox import service as outbox

bp = Blueprint("buddies", __name__)
# Coordinators' pages, registered with the buddies blueprint (one line in the app factory).
admin = Blueprint("admin", __name__, url_prefix="/admin")


@bp.app_template_global("programme_criteria")
def _programme_criteria():
    return qualification.programme_criteria()


# -- a buddy's own profile --------------------------------------------------------------


@bp.route("/me/buddy", methods=["GET", "POST"])
@login_required
def my_profile():
    """An approved buddy edits what champions read of them, and how many they take on."""
    person = current_person()
    try:
        profile = applications.approved_profile(person.id)
    except BuddyError as error:
        abort(404, str(error))
    form = ProfileForm(obj=profile)
    if request.method == "GET":
        form.capacity.data = str(profile.capacity)
    elif form.validate_on_submit():
        applications.update_profile(person.id, form.data)
        db.session.commit()
        flash("Your buddy profile is saved." if profile.capacity else
              "Your buddy profile is saved. No new champions will be proposed to you until you choose a number again.")
        return redirect(url_for("accounts.me"))
    return render_template("buddies/my_profile.html", form=form, load=service.champions_of(person.id)), (
        200 if request.method == "GET" else 422)


# -- applying ------------------------------------------------------------------------


@bp.route("/buddies/join", methods=["GET", "POST"])
@auth_per_ip
@auth_per_address
def join():
    form = JoinForm()
    if request.method == "GET":
        return render_template("buddies/join.html", form=form)
    if not form.validate_on_submit():
        return render_template("buddies/join.html", form=form), 422
    applications.apply(form.data)
    db.session.commit()
    outbox.enqueue_new()
    return render_template("buddies/check_your_email.html", email=form.email.data)


@bp.get("/buddies/confirm/<token>")
def confirm_page(token: str):
    """Shows a button; a GET (a link scanner, a prefetch) never uses the link."""
    try:
        applications.peek_application_token(token)
    except TokenInvalid as error:
        return render_template("buddies/link_invalid.html", reason=str(error)), 410
    return render_template("buddies/continue.html", form=ContinueForm())


@bp.post("/buddies/confirm/<token>")
def confirm_post(token: str):
    form = ContinueForm()
    if not form.validate_on_submit():
        return render_template(
            "buddies/link_invalid.html",
            reason="Your browser did not send the form's security token. Please open the link again.",
        ), 400
    try:
        person = applications.confirm_application(token)
    except TokenInvalid as error:
        db.session.rollback()
        return render_template("buddies/link_invalid.html", reason=str(error)), 410
    db.session.commit()
    outbox.enqueue_new()
    sign_in(person)
    return render_template("buddies/application_confirmed.html", person=person)


@bp.get("/buddies/consultants")
def consultants():
    current = programme.load()
    return render_template(
        "buddies/consultants.html", consultants=current.consultants, languages=LANGUAGES,
        criteria=qualification.programme_criteria(),
    )


# -- a pair's pages, by signed link ---------------------------------------------------------


def _pair_from(token: str, page: str):
    try:
        return service.read_page_token(token, page)
    except PairNotFound as error:
        abort(404, str(error))


def _profiles(pair) -> dict:
    return {
        "champion": service.champion_profile_text(pair.champion),
        "buddy": service.buddy_profile_text(pair.buddy),
    }


@bp.get("/buddies/proposal/<token>")
def proposal(token: str):
    pair, person_id = _pair_from(token, "proposal")
    return render_template("buddies/proposal.html", pair=pair, me_id=person_id,
                           profiles=_profiles(pair), form=ObjectForm(), now=clock.now())


@bp.post("/buddies/proposal/<token>")
def object_post(token: str):
    form = ObjectForm()
    if not form.validate_on_submit():
        abort(400, "Your browser did not send the form's security token. Please open the link again.")
    pair, person_id = _pair_from(token, "proposal")
    try:
        service.object_to_pair(pair.id, person_id, "page")
    except TooLateToObject as error:
        db.session.rollback()
        abort(409, str(error))
    db.session.commit()
    outbox.enqueue_new()
    return render_template("buddies/objected.html")


@bp.get("/buddies/pair/<token>")
def pair_page(token: str):
    pair, person_id = _pair_from(token, "pair")
    return render_template("buddies/pair.html", pair=pair, me_id=person_id,
                           profiles=_profiles(pair), form=EndPairForm())


@bp.post("/buddies/pair/<token>")
def end_post(token: str):
    form = EndPairForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400, "Your browser did not send the form's security token. Please open the link again.")
        pair, person_id = _pair_from(token, "pair")
        return render_template("buddies/pair.html", pair=pair, me_id=person_id,
                               profiles=_profiles(pair), form=form), 422
    pair, person_id = _pair_from(token, "pair")
    service.end_pair(pair.id, person_id, form.reason.data or "ended from the pair page")
    db.session.commit()
    outbox.enqueue_new()
    return render_template("buddies/ended.html")


@bp.get("/buddies/profiles/<token>")
def profiles(token: str):
    pair, _person_id = _pair_from(token, "profiles")
    return render_template("buddies/profiles.html", pair=pair, profiles=_profiles(pair))


# -- coordinators -----------------------------------------------------------------------


@admin.before_request
@coordinator_required
def _guard():
    """Every coordinators' page: anonymous -> sign in, others -> 403."""
    return None


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        abort(400, "The form named no valid record.")


def _coordinator_id() -> int:
    return current_person().id


def _done(message: str, endpoint: str):
    db.session.commit()
    outbox.enqueue_new()
    flash(message)
    return redirect(url_for(endpoint))


@admin.get("/buddies")
def buddies_page():
    return _buddies_page()


def _buddies_page(error: str | None = None, status: int = 200):
    return render_template(
        "buddies/admin_buddies.html", rows=overview.buddies_overview(), form=PersonActionForm(),
        languages=LANGUAGES, kinds=ORGANISATION_KINDS, error=error,
    ), status


def _person_action(action, success: str):
    form = PersonActionForm()
    if not form.validate_on_submit():
        return _buddies_page("The form was incomplete or expired; please try again.", 422)
    try:
        result = action(_id(form.person_id.data), form.reason.data or "")
    except BuddyError as error:
        db.session.rollback()
        return _buddies_page(str(error), 422)
    return _done(success.format(result=result), "buddies.admin.buddies_page")


@admin.post("/buddies/approve")
def approve():
    def act(person_id, _reason):
        profile, changed = applications.approve_buddy(person_id, _coordinator_id())
        return f"{profile.person.email} is {'now' if changed else 'already'} a buddy."

    return _person_action(act, "{result}")


@admin.post("/buddies/decline")
def decline():
    def act(person_id, reason):
        return applications.decline_buddy(person_id, _coordinator_id(), reason).person.email

    return _person_action(act, "The application of {result} is declined.")


@admin.get("/matches")
def matches_page():
    return _matches_page()


def _matches_page(error: str | None = None, status: int = 200):
    now = clock.now()
    return render_template(
        "buddies/admin_matches.html",
        auto=service.is_auto_matching(),
        waiting=overview.waiting_overview(now),
        buddies=overview.buddies_by_id(),
        proposed=overview.pairs_in("proposed"),
        active=overview.pairs_in("active"),
        propose_form=ProposeForm(),
        auto_form=AutoMatchingForm(),
        end_form=CoordinatorEndForm(),
        error=error,
        now=now,
    ), status


@admin.post("/matches/propose")
def propose():
    form = ProposeForm()
    if not form.validate_on_submit():
        return _matches_page("The form was incomplete or expired; please try again.", 422)
    buddy_id = _id(form.buddy_id.data) if form.buddy_id.data else None
    try:
        pair = service.propose_match(_id(form.champion_id.data), buddy_id=buddy_id,
                                     how="coordinator", by_id=_coordinator_id())
    except BuddyError as error:
        db.session.rollback()
        return _matches_page(str(error), 422)
    return _done(f"Proposed {pair.buddy.name} to {pair.champion.name}; both may object until "
                 f"{pair.consent_until:%Y-%m-%d %H:%M} UTC.", "buddies.admin.matches_page")


@admin.post("/matches/auto")
def auto_matching():
    form = AutoMatchingForm()
    if not form.validate_on_submit() or form.on.data not in ("yes", "no"):
        return _matches_page("The form was incomplete or expired; please try again.", 422)
    service.set_auto_matching(form.on.data == "yes", _coordinator_id())
    state = "on: Hearth proposes the best buddy by itself" if form.on.data == "yes" else "off"
    return _done(f"Automatic matching is {state}.", "buddies.admin.matches_page")


@admin.post("/matches/end")
def end_pair():
    form = CoordinatorEndForm()
    if not form.validate_on_submit():
        return _matches_page("Please give a reason for ending the pairing.", 422)
    try:
        service.end_pair(_id(form.pair_id.data), _coordinator_id(), form.reason.data)
    except BuddyError as error:
        db.session.rollback()
        return _matches_page(str(error), 422)
    return _done("The pairing is ended; both get a closing email.", "buddies.admin.matches_page")


@admin.get("/qualification")
def qualification_page():
    return _qualification_page()


def _qualification_page(error: str | None = None, status: int = 200, form: OverrideForm | None = None):
    return render_template(
        "buddies/admin_qualification.html", rows=overview.qualifications(),
        unassessed=overview.unassessed_champions(), form=form or OverrideForm(), error=error,
        criteria=qualification.programme_criteria(),
    ), status


@admin.post("/qualification/override")
def override():
    form = OverrideForm()
    if not form.validate_on_submit():
        message = "; ".join(e for errs in form.errors.values() for e in errs)
        return _qualification_page(message or "Please try again.", 422, form)
    try:
        row = service.override_qualification(
            _id(form.person_id.data), form.qualifies.data == "yes", form.reason.data, _coordinator_id()
        )
    except BuddyError as error:
        db.session.rollback()
        return _qualification_page(str(error), 422, form)
    verdict = "qualifies" if row.qualifies else "does not qualify"
    return _done(f"{row.person.email} now {verdict}.", "buddies.admin.qualification_page")


@admin.get("/at-risk")
def at_risk_page():
    return render_template("buddies/admin_at_risk.html", rows=overview.at_risk(),
                           form=ResolveForm(), now=clock.now())


@admin.post("/at-risk/resolve")
def resolve():
    form = ResolveForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    try:
        service.resolve_concern(_id(form.concern_id.data), _coordinator_id())
    except BuddyError as error:
        abort(404, str(error))
    return _done("Marked as resolved.", "buddies.admin.at_risk_page")


bp.register_blueprint(admin)
