"""The coordinators' dashboard. Every route of this blueprint is guarded in
one place (anonymous -> sign in, others -> 403). Ids in paths are plain text,
so a malformed one still meets the guard (a 403, never a 404 that maps the
routes). Thin: a form in, one service call, a page out; no GET changes state."""

from __future__ import annotations

import secrets
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import select

from app import clock, content, links
from app.accounts.auth import coordinator_required, current_person
from app.accounts.models import Enrollment, Person
from app.admin import attention, exports, inbound_review, lists, overview
from app.admin.forms import ButtonForm, CancelForm, CheckinForm, DiscardForm
from app.admin.paging import cursor
from app.buddies.forms import ResolveForm
from app.buddies.models import BuddyProfile, Pair, Qualification
from app.circles import service as circles
from app.circles.models import Membership
from app.extensions import db
from app.inbound import service as inbound
from app.outbox import admin_actions
from app.outbox import service as outbox
from app.outbox.models import Delivery, Unsubscribe
from app.surveys import charts, results
from app.surveys import service as surveys
from app.surveys.errors import SurveyError
from app.surveys.forms import SurveyForm
from app.surveys.models import Graduation
from emails import render
from emails import surveys as definitions

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@coordinator_required
def _guard():
    """Runs before every admin view: anonymous -> sign in, others -> 403."""
    return None


def _number(text: str) -> int:
    if not text.isdigit():
        abort(404, "There is no such page.")
    return int(text)


def _back(default: str) -> str:
    return links.safe_next(request.form.get("next")) or default


def _done(message: str, target: str):
    db.session.commit()
    outbox.enqueue_new()
    flash(message)
    return redirect(target)


def _paging() -> dict:
    return {"after": cursor(request.args.get("after")), "before": cursor(request.args.get("before"))}


def _q() -> str:
    return (request.args.get("q") or "").strip()[:200]


# -- overview --------------------------------------------------------------------------


@bp.get("/")
def home():
    cohorts, values = overview.funnel()
    series = list(zip(overview.STAGES, charts.STAGE_COLOURS, strict=True))
    weeks = overview.emails_per_week(clock.now())
    return render_template(
        "admin/home.html",
        totals=overview.totals(),
        cohorts=cohorts,
        funnel=values,
        stages=overview.STAGES,
        funnel_chart=charts.grouped_column_chart(
            cohorts, series, values, title="The programme funnel per cohort"),
        weeks=weeks,
        weeks_chart=charts.column_chart(
            [(f"{week:%-d %b}", count) for week, count in weeks], title="Emails sent per week"),
        attention=attention.counts(),
        recent=db.session.scalars(select(Person).order_by(Person.id.desc()).limit(8)).all(),
    )


# -- people ----------------------------------------------------------------------------


@bp.get("/people")
def people():
    role = request.args.get("role") if request.args.get("role") in lists.ROLES else None
    cohort = results.cohort_named(request.args.get("cohort", "")) if request.args.get("cohort") else None
    page = lists.people(_q(), role, cohort.id if cohort else None, **_paging())
    return render_template("admin/people.html", page=page, q=_q(), role=role,
                           cohort=cohort.name if cohort else "", cohorts=results.cohorts(),
                           export="buddies" if role == "buddy" else "people")


@bp.get("/people/<person_id>")
def person(person_id: str):
    found = db.session.get(Person, _number(person_id))
    if found is None:
        abort(404, "There is no such person.")
    pair_rows = db.session.scalars(
        select(Pair).where((Pair.champion_id == found.id) | (Pair.buddy_id == found.id))
        .order_by(Pair.id.desc())).all()
    return render_template(
        "admin/person.html",
        person=found,
        enrollment=db.session.scalar(select(Enrollment).where(Enrollment.person_id == found.id)),
        qualification=Qualification.of(found.id),
        profile=BuddyProfile.of(found.id),
        pairs=pair_rows,
        last_checkins=lists.last_checkins([p.id for p in pair_rows]),
        memberships=db.session.scalars(select(Membership).where(Membership.person_id == found.id)
                                       .order_by(Membership.id.desc())).all(),
        circle_names={c.id: c.name for c in circles.circles_of(found.id)},
        graduation=Graduation.of(found.id),
        invitations=surveys.invitations_of(found.id),
        unsubscribes=db.session.scalars(select(Unsubscribe).where(Unsubscribe.person_id == found.id)).all(),
        deliveries=db.session.scalars(select(Delivery).where(Delivery.person_id == found.id)
                                      .order_by(Delivery.id.desc()).limit(20)).all(),
        summary=surveys.journey_summary(found) if found.is_champion else None,
        form=ButtonForm(),
    )


@bp.post("/people/<person_id>/graduate")
def graduate(person_id: str):
    person_id = _number(person_id)
    if not ButtonForm().validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    try:
        found = surveys.graduate(person_id, how="coordinator", by_id=current_person().id)
    except SurveyError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("admin.person", person_id=person_id))
    return _done(f"{found.person.name} graduated; the thank-you email with the survey is on its way.",
                 url_for("admin.person", person_id=person_id))


# -- pairs, circles, attention -------------------------------------------------------------


@bp.get("/pairs")
def pairs():
    status = request.args.get("status") if request.args.get("status") in lists.PAIR_STATUSES else None
    page = lists.pairs(_q(), status, **_paging())
    return render_template("admin/pairs.html", page=page, q=_q(), status=status,
                           statuses=lists.PAIR_STATUSES, form=ButtonForm())


@bp.get("/meetings")
def meetings():
    page, rows = lists.meetings(_q(), **_paging())
    return render_template("admin/meetings.html", page=page, rows=rows, q=_q())


@bp.get("/attention")
def attention_page():
    return render_template("admin/attention.html", rows=list(attention.rows()), counts=attention.counts(),
                           kinds=attention.KINDS, form=ResolveForm(), shown=attention.SHOWN)


# -- outbox ------------------------------------------------------------------------------


@bp.get("/outbox")
def outbox_page():
    tab = request.args.get("tab") if request.args.get("tab") in lists.OUTBOX_TABS else "failed"
    return render_template("admin/outbox.html", tab=tab, tabs=lists.OUTBOX_TABS, q=_q(),
                           counts=lists.outbox_counts(), page=lists.deliveries(tab, _q(), **_paging()),
                           button=ButtonForm(), cancel=CancelForm())


@bp.post("/outbox/<delivery_id>/retry")
def retry(delivery_id: str):
    delivery_id = _number(delivery_id)
    if not ButtonForm().validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    back = _back(url_for("admin.outbox_page"))
    try:
        delivery = admin_actions.retry(delivery_id, current_person().email)
    except admin_actions.DeliveryActionRefused as error:
        db.session.rollback()
        flash(str(error))
        return redirect(back)
    return _done(f"Email #{delivery.id} to {delivery.to_email} is queued again.", back)


@bp.post("/outbox/retry-failed")
def retry_failed():
    if not ButtonForm().validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    count = admin_actions.retry_all_failed(current_person().email)
    return _done(f"{count} failed email(s) queued again.", _back(url_for("admin.outbox_page")))


@bp.post("/outbox/<delivery_id>/cancel")
def cancel(delivery_id: str):
    delivery_id = _number(delivery_id)
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    back = _back(url_for("admin.outbox_page", tab="pending"))
    try:
        delivery = admin_actions.cancel(delivery_id, form.reason.data or "", current_person().email)
    except admin_actions.DeliveryActionRefused as error:
        db.session.rollback()
        flash(str(error))
        return redirect(back)
    return _done(f"Email #{delivery.id} to {delivery.to_email} is cancelled.", back)


# -- inbound review ----------------------------------------------------------------------------


@bp.get("/inbound")
def inbound_page():
    tab = request.args.get("tab") if request.args.get("tab") in lists.INBOUND_TABS else "review"
    page = lists.inbound(tab, _q(), **_paging())
    return render_template(
        "admin/inbound.html", tab=tab, tabs=lists.INBOUND_TABS, q=_q(), page=page,
        counts=lists.inbound_counts(),
        texts={m.id: inbound_review.readable_text(m) for m in page.rows},
        candidates={m.id: inbound_review.candidate_pairs(m) for m in page.rows},
        senders={m.id: inbound_review.sender(m) for m in page.rows},
        checkin=CheckinForm(formdata=None), discard=DiscardForm(formdata=None), button=ButtonForm(),
    )


@bp.post("/inbound/<message_id>/checkin")
def inbound_checkin(message_id: str):
    message_id = _number(message_id)
    form = CheckinForm()
    back = _back(url_for("admin.inbound_page"))
    if not form.validate_on_submit():
        flash("Choose the pair the message belongs to, then press the button again.")
        return redirect(back)
    typed = form.pair_id.data.strip()
    if not typed.isdigit():
        flash(f"There is no pair {typed!r}: give the pair's number.")
        return redirect(back)
    try:
        logged = inbound_review.log_as_checkin(message_id, int(typed), None, current_person().email,
                                               role=form.author.data or None)
    except inbound_review.ReviewRefused as error:
        db.session.rollback()
        flash(str(error))
        return redirect(back)
    return _done(f"Message {message_id} is logged as check-in {logged.id} of pair {logged.pair_id}.", back)


@bp.post("/inbound/<message_id>/discard")
def inbound_discard(message_id: str):
    message_id = _number(message_id)
    form = DiscardForm()
    back = _back(url_for("admin.inbound_page"))
    if not form.validate_on_submit():
        flash("Please give a reason for discarding the message.")
        return redirect(back)
    try:
        inbound_review.discard(message_id, form.reason.data, current_person().email)
    except inbound_review.ReviewRefused as error:
        db.session.rollback()
        flash(str(error))
        return redirect(back)
    return _done(f"Message {message_id} is discarded.", back)


@bp.post("/inbound/<message_id>/reprocess")
def inbound_reprocess(message_id: str):
    message_id = _number(message_id)
    if not ButtonForm().validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    try:
        inbound_review.message(message_id)
    except inbound_review.ReviewRefused as error:
        abort(404, str(error))
    processed = inbound.process(message_id)  # commits, like `flask inbound reprocess`
    flash(f"Message {message_id} processed again: {processed.status}: {processed.reason}")
    return redirect(_back(url_for("admin.inbound_page")))


# -- surveys ------------------------------------------------------------------------------------


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _survey_filters() -> tuple[results.Filters, str]:
    known = definitions.names()
    survey = request.args.get("survey") if request.args.get("survey") in known else surveys.GRADUATION
    cohort = results.cohort_named(request.args.get("cohort", "")) if request.args.get("cohort") else None
    filters = results.Filters(survey, cohort.id if cohort else None, _day("since"), _day("until"))
    return filters, cohort.name if cohort else ""


@bp.get("/surveys")
def surveys_page():
    filters, cohort = _survey_filters()
    found = results.results(filters)
    chart_for = {}
    for result in found.questions:
        if not result.buckets:
            continue
        title = f"Answers to: {result.question.text}"
        if result.question.kind in definitions.SCALES:  # the ends' words are under the chart
            chart_for[result.question.key] = charts.column_chart(
                [(bucket.value, bucket.count) for bucket in result.buckets], title=title,
                width=600, height=200)
        else:
            chart_for[result.question.key] = charts.bar_chart(
                [(bucket.label, bucket.count) for bucket in result.buckets], title=title, width=600)
    query = {k: v for k, v in {"survey": filters.survey, "cohort": cohort,
                                "since": filters.since.isoformat() if filters.since else "",
                                "until": filters.until.isoformat() if filters.until else ""}.items() if v}
    return render_template("admin/surveys.html", results=found, charts=chart_for, filters=filters,
                           cohort=cohort, cohorts=results.cohorts(), names=definitions.names(),
                           query=query)


@bp.get("/surveys/<name>/preview")
def survey_preview(name: str):
    if name not in definitions.names():
        abort(404, "There is no such survey.")
    survey = definitions.load(name)
    return render_template("surveys/survey.html", survey=survey, invitation=None, values={},
                           errors={}, chosen=False, form=SurveyForm(), preview=True)


# -- content previews --------------------------------------------------------------------------


def _template(name: str) -> str:
    if name not in render.template_names():
        abort(404, "There is no such template.")
    return name


@bp.get("/content")
def content_page():
    rows = []
    for name in render.template_names():
        try:
            subject = content.preview(name).subject
        except render.TemplateError as error:
            subject = f"cannot be rendered: {error}"
        rows.append((name, content.stream_of(name), subject))
    return render_template("admin/content.html", rows=rows, surveys=definitions.names())


@bp.get("/content/<name>")
def content_template(name: str):
    name = _template(name)
    try:
        rendered, problem = content.preview(name, current_person()), None
    except render.TemplateError as error:
        rendered, problem = None, str(error)
    return render_template("admin/content_template.html", name=name, stream=content.stream_of(name),
                           rendered=rendered, problem=problem, form=ButtonForm())


@bp.get("/content/<name>/html")
def content_html(name: str):
    """The HTML part alone, for a sandboxed iframe: its own CSP allows the
    email's inline styles and nothing else (no scripts, no remote images)."""
    try:
        html = content.preview(_template(name), current_person()).html
    except render.TemplateError as error:
        abort(422, str(error))
    return html, 200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                   "frame-ancestors 'self'",
        "X-Frame-Options": "SAMEORIGIN",
    }


@bp.post("/content/<name>/test")
def content_test(name: str):
    name = _template(name)
    if not ButtonForm().validate_on_submit():
        abort(400, "The form was incomplete or expired; please try again.")
    me = current_person()
    outbox.queue_email(me, name, stream="transactional",
                       key=f"{me.id}:content-test:{name}:{secrets.token_hex(6)}",
                       params=content.test_params())
    return _done(f"A test of {name} is on its way to {me.email}.",
                 url_for("admin.content_template", name=name))


# -- CSV ----------------------------------------------------------------------------------------


@bp.get("/export/<filename>")
def export(filename: str):
    name, _dot, extension = filename.rpartition(".")
    found = exports.EXPORTS.get(name)
    if found is None or extension != "csv":
        abort(404, "There is no such export.")
    options = {}
    if name == "survey-responses" and request.args.get("survey"):
        options["filters"] = _survey_filters()[0]
    return Response(
        stream_with_context(exports.csv_lines(found, **options)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="hearth-{name}-{clock.now():%Y%m%d}.csv"'},
    )
