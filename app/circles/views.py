"""Circle pages. For members: the RSVP page (GET shows buttons, POST records),
the leave page, and the personal calendar feed. For coordinators, under
/admin/circles (a nested blueprint guarded in one place): the circles, their
next meetings with who said yes, no, maybe or nothing, and every action.
Thin: a form in, one service call, a page out."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app import clock
from app.accounts.auth import coordinator_required, current_person, login_required
from app.circles import forms, placement, rsvps, schedule, service, tokens
from app.circles.errors import CircleError, NotAMeeting, PersonNotFound, RsvpLinkInvalid
from app.circles.models import Circle, Membership, Placement
from app.extensions import db
from app.outbox import service as outbox

bp = Blueprint("circles", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin/circles")
MEETINGS_SHOWN = 6


# -- members ------------------------------------------------------------------------------


@bp.app_context_processor
def _calendar_feed():
    """`calendar_feed()` in any template: the signed-in person's feed links
    ({"https": ..., "webcal": ...}), e.g. for /me."""

    def calendar_feed() -> dict | None:
        person = current_person()
        if person is None:
            return None
        generation = tokens.feed_generation(person.id)
        return {"https": tokens.feed_url(person.id, generation),
                "webcal": tokens.webcal_url(person.id, generation),
                "replace_form": forms.CsrfOnlyForm()}

    return {"calendar_feed": calendar_feed}


@bp.post("/me/calendar")
@login_required
def replace_calendar_feed():
    """A new feed link for the signed-in person; the old one stops working."""
    if not forms.CsrfOnlyForm().validate_on_submit():
        abort(400, "The form expired. Reload your page and press the button again.")
    service.replace_feed(current_person().id)
    db.session.commit()
    flash("Your calendar has a new link, below. The old one no longer works: subscribe again with the new one.")
    return redirect(url_for("accounts.me"))


def _link_problem(error: CircleError):
    return render_template("circles/link_invalid.html", reason=str(error)), (
        410 if isinstance(error, NotAMeeting) else 404
    )


@bp.get("/circles/rsvp/<token>")
def rsvp_page(token: str):
    """Shows the buttons; a GET (a link scanner, a preview) records nothing."""
    try:
        target = rsvps.open_link(token)
    except CircleError as error:
        return _link_problem(error)
    chosen = request.args.get("answer") if request.args.get("answer") in rsvps.WORDS else None
    return render_template("circles/rsvp.html", form=forms.RsvpForm(), target=target, chosen=chosen,
                           when=_when_for(target))


def _when_for(target: rsvps.LinkTarget) -> str:
    return schedule.when(target.meeting.start, target.meeting.end, target.member.person.timezone)


@bp.post("/circles/rsvp/<token>")
def rsvp_post(token: str):
    form = forms.RsvpForm()
    if not form.validate_on_submit():
        abort(400, "The form's security token was missing. Please open the link again.")
    try:
        target = rsvps.record_link_rsvp(token, request.form.get("answer", ""))
    except CircleError as error:
        db.session.rollback()
        return _link_problem(error)
    db.session.commit()
    return render_template("circles/rsvp_done.html", target=target, when=_when_for(target))


@bp.route("/circles/leave/<token>", methods=["GET", "POST"])
def leave(token: str):
    try:
        person_id, membership_id = tokens.read_leave_token(token)
    except RsvpLinkInvalid as error:
        return _link_problem(error)
    member = db.session.get(Membership, membership_id)
    if member is None or member.person_id != person_id:
        return _link_problem(PersonNotFound("This link is not valid any more."))
    circle = db.session.get(Circle, member.circle_id)
    form = forms.CsrfOnlyForm()
    if request.method == "GET" or member.left_at is not None:
        return render_template("circles/leave.html", form=form, circle=circle, member=member)
    if not form.validate_on_submit():
        abort(400, "The form's security token was missing. Please open the link again.")
    service.leave_by_token(token)
    db.session.commit()
    outbox.enqueue_new()
    return render_template("circles/leave.html", form=form, circle=circle, member=member, done=True)


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    try:
        body = service.feed_for(*tokens.read_feed_token(token))
    except CircleError as error:
        abort(404, str(error))
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="hearth-circles.ics"',
                 "Cache-Control": "private, max-age=900"},
    )


# -- coordinators ----------------------------------------------------------------------------


@admin.before_request
@coordinator_required
def _guard():
    """Runs before every route here: anonymous -> sign in, others -> 403."""
    return None


def _number(text: str) -> int:
    """Ids in paths are plain text, so that a malformed one still meets the
    guard above (a non-coordinator sees 403, never a 404 that maps the routes)."""
    if not text.isdigit():
        abort(404, "There is no such page.")
    return int(text)


def _done(message: str, circle_id: int | None = None):
    db.session.commit()
    outbox.enqueue_new()
    flash(message)
    if circle_id is None:
        return redirect(url_for("circles.admin.index"))
    return redirect(url_for("circles.admin.circle", circle_id=circle_id))


def _index_page(status: int = 200, **form_overrides):
    now = clock.now()
    circles = db.session.scalars(select(Circle).order_by(Circle.status, Circle.name)).all()
    rows = []
    for c in circles:
        following = schedule.upcoming(c, now, 1, include_cancelled=False) if c.status == "active" else []
        rows.append({"circle": c, "members": len(service.active_members(c.id)),
                     "next": following[0] if following else None})
    proposals = db.session.scalars(
        select(Placement).where(Placement.status == "proposed").order_by(Placement.created_at)
    ).all()
    settings = forms.SettingsForm(formdata=None, auto_placement=service.is_auto_placement(),
                                  place_after_days=service.place_after_days())
    return render_template(
        "circles/admin_index.html",
        rows=rows,
        proposals=proposals,
        create=form_overrides.get("create") or forms.CreateCircleForm(formdata=None),
        settings=settings,
        placement_form=forms.PlacementForm(formdata=None),
        waking=placement.WAKING_HOURS,
    ), status


@admin.get("/")
def index():
    return _index_page()


@admin.post("/create")
def create():
    form = forms.CreateCircleForm()
    if not form.validate_on_submit():
        return _index_page(422, create=form)
    try:
        circle = service.create_circle(
            name=form.name.data, timezone=form.timezone.data, rrule=form.rrule.data,
            start=form.start.data, minutes=form.minutes.data, url=form.url.data,
            capacity=form.capacity.data, purpose=form.purpose.data,
            cohort=form.cohort.data or None, facilitator_email=form.facilitator.data or None,
        )
    except CircleError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _index_page(422, create=form)
    return _done(f"Created {circle.name}.", circle.id)


@admin.post("/settings")
def settings():
    form = forms.SettingsForm()
    if not form.validate_on_submit():
        flash("Those settings were not saved: " + "; ".join(sum(form.errors.values(), [])))
        return redirect(url_for("circles.admin.index"))
    person = current_person()
    service.set_auto_placement(form.auto_placement.data, person.id)
    service.set_place_after_days(form.place_after_days.data, person.id)
    return _done("Placement settings saved.")


@admin.post("/placements/<placement_id>/confirm")
def confirm_placement(placement_id: str):
    placement_id = _number(placement_id)
    form = forms.PlacementForm()
    if not form.validate_on_submit():
        abort(400, "The form's security token was missing. Please try again.")
    try:
        member = service.confirm_placement(placement_id, by_id=current_person().id,
                                           circle_ref=form.circle.data or None)
    except CircleError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("circles.admin.index"))
    return _done(f"{member.person.name} joins; the invitation is on its way.")


@admin.post("/placements/<placement_id>/dismiss")
def dismiss_placement(placement_id: str):
    placement_id = _number(placement_id)
    if not forms.CsrfOnlyForm().validate_on_submit():
        abort(400, "The form's security token was missing. Please try again.")
    try:
        service.dismiss_placement(placement_id, by_id=current_person().id)
    except CircleError as error:
        flash(str(error))
        return redirect(url_for("circles.admin.index"))
    return _done("Proposal dismissed.")


def _circle_or_404(circle_id: int) -> Circle:
    circle = db.session.get(Circle, circle_id)
    if circle is None:
        abort(404, "There is no such circle.")
    return circle


@admin.get("/<circle_id>")
def circle(circle_id: str):
    circle_id = _number(circle_id)
    return _circle_page(_circle_or_404(circle_id))


def _circle_page(circle: Circle, status: int = 200, **bound):
    now = clock.now()
    members = service.active_members(circle.id)
    meetings = schedule.upcoming(circle, now, MEETINGS_SHOWN) if circle.status == "active" else []
    answers = rsvps.answers_for(circle, members, meetings)
    blank = {
        "add": forms.AddMemberForm, "cancel": forms.MeetingForm, "reschedule": forms.RescheduleForm,
        "move": forms.MoveMeetingForm, "link": forms.LinkForm, "facilitation": forms.FacilitationForm,
    }
    built = {name: bound.get(name) or cls(formdata=None) for name, cls in blank.items()}
    built["facilitation"].rotates.data = circle.rotates_facilitation
    if circle.facilitator and not bound.get("facilitation"):
        built["facilitation"].facilitator.data = circle.facilitator.email
    return render_template(
        "circles/admin_circle.html", circle=circle, zone=ZoneInfo(circle.timezone), members=members,
        meetings=meetings,
        answers=answers, forms=built, button=forms.CsrfOnlyForm(formdata=None),
        counts={m.key: _count(answers, members, m) for m in meetings},
    ), status


def _count(answers: dict, members: list, meeting) -> dict:
    counts = {"yes": 0, "no": 0, "maybe": 0, "nothing": 0}
    for member in members:
        found = answers.get((member.person_id, meeting.key))
        counts[found["answer"] if found else "nothing"] += 1
    return counts


def _act(circle_id: int, name: str, form, action):
    """Validate `form`, run `action()` (a service call returning a message)."""
    circle = _circle_or_404(circle_id)
    if not form.validate_on_submit():
        if name == "button":
            abort(400, "The form's security token was missing. Please try again.")
        return _circle_page(circle, 422, **{name: form})
    try:
        message = action(circle)
    except CircleError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _circle_page(db.session.get(Circle, circle_id), 422, **{name: form})
    return _done(message, circle_id)


@admin.post("/<circle_id>/members")
def add_member(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.AddMemberForm()

    def action(circle):
        member = service.add_member_by_email(circle.id, form.email.data)
        return f"{member.person.email} joins {circle.name}; the invitation is on its way."

    return _act(circle_id, "add", form, action)


@admin.post("/<circle_id>/members/<person_id>/remove")
def remove_member(circle_id: str, person_id: str):
    circle_id, person_id = _number(circle_id), _number(person_id)
    form = forms.CsrfOnlyForm()

    def action(circle):
        member = service.remove_member(circle.id, person_id, "removed by a coordinator")
        return f"{member.person.email} left {circle.name}; their calendar gets a cancellation."

    return _act(circle_id, "button", form, action)


@admin.post("/<circle_id>/members/<person_id>/willing")
def toggle_willing(circle_id: str, person_id: str):
    circle_id, person_id = _number(circle_id), _number(person_id)
    form = forms.CsrfOnlyForm()

    def action(circle):
        member = service.membership_of(circle.id, person_id)
        if member is None:
            raise PersonNotFound("That person is not a member of this circle.")
        service.set_willing(circle.id, person_id, not member.willing_to_facilitate)
        return f"{member.person.name} is {'' if member.willing_to_facilitate else 'not '}willing to facilitate."

    return _act(circle_id, "button", form, action)


@admin.post("/<circle_id>/cancel-meeting")
def cancel_meeting(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.MeetingForm()

    def action(circle):
        meeting = service.cancel_meeting(circle.id, form.day.data)
        return f"The meeting of {meeting.start:%Y-%m-%d} is cancelled; every member's calendar is told."

    return _act(circle_id, "cancel", form, action)


@admin.post("/<circle_id>/reschedule")
def reschedule(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.RescheduleForm()

    def action(circle):
        return service.reschedule(circle.id, form.start.data, rrule=form.rrule.data or None,
                                  minutes=form.minutes.data or None)

    return _act(circle_id, "reschedule", form, action)


@admin.post("/<circle_id>/move-meeting")
def move_meeting(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.MoveMeetingForm()

    def action(circle):
        meeting = service.move_meeting(circle.id, form.day.data, form.start.data)
        return f"The meeting of {form.day.data.isoformat()} moves to {meeting.start:%Y-%m-%d %H:%M}."

    return _act(circle_id, "move", form, action)


@admin.post("/<circle_id>/link")
def change_link(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.LinkForm()

    def action(circle):
        service.change_link(circle.id, form.url.data)
        return "The new link is saved; every member gets an update."

    return _act(circle_id, "link", form, action)


@admin.post("/<circle_id>/facilitation")
def facilitation(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.FacilitationForm()

    def action(circle):
        service.set_facilitation(circle.id, form.facilitator.data or None, form.rotates.data)
        return "Facilitation saved."

    return _act(circle_id, "facilitation", form, action)


@admin.post("/<circle_id>/end")
def end(circle_id: str):
    circle_id = _number(circle_id)
    form = forms.CsrfOnlyForm()

    def action(circle):
        told = service.end_circle(circle.id)
        return f"{circle.name} has ended; {told} member(s) get a cancellation."

    return _act(circle_id, "button", form, action)


bp.register_blueprint(admin)
