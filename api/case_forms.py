"""The forms on a case page: what `pathway case referral`, `court-report`, `justice-outcome`,
`cohort`, `release-date` and `close` do, and the hearing outcome `pathway task complete` records,
built from the same commands and outcome models, so the same rules refuse the same input. Each form
is offered only to the roles the access matrix lets use it (domain/access.py); the service checks
again whatever is posted."""

from dataclasses import dataclass

from api.forms import FormProblems, Group, Question, form_for, local_time, relabelled, with_choices, words
from domain.access import Action, allowed, may_work_on
from domain.commands import (
    ChangeCohort,
    CloseCase,
    LinkPerson,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
    UnlinkPerson,
)
from domain.errors import Rule, RuleViolation
from domain.model import Actor, Role
from domain.outcomes import HearingOutcome
from domain.state import CaseState
from domain.tasks import TaskKind

# A case page's forms never ask who acts (the signed-in person) or the case version the asker last saw:
# the case moves on by itself (timers, sends) between a page's load and its post.
NOT_ASKED = frozenset({"actor", "expected_version"})
HEARING_TASK = "task_id"  # the hearing form's own question: which hearing (its outcome task)

# The question a refusal is about, where it is about one answer: the message goes beside it.
RULE_FIELDS: dict[Rule, str] = {
    Rule.REFERRAL_UNKNOWN: "referral_id",
    Rule.REFERRAL_NOT_SENT: "referral_id",
    Rule.REFERRAL_TRANSITION: "status",
    Rule.REASON_REQUIRED: "reason",
    Rule.HEARING_IN_PAST: "hearing_at",
    Rule.DUE_IN_PAST: "due_at",
    Rule.DUE_AFTER_HEARING: "due_at",
    Rule.REPORT_NEEDS_CONSENT_SCOPE: "recipients",
    Rule.RECIPIENT_WITHOUT_ADDRESS: "recipients",
    Rule.TASK_UNKNOWN: HEARING_TASK,
    Rule.TASK_NOT_OPEN: HEARING_TASK,
    Rule.PERSON_UNKNOWN: "person_id",
    Rule.ALREADY_THAT_PERSON: "person_id",
    Rule.JUSTICE_OUTCOME_UNCHANGED: "outcome",
    Rule.COHORT_UNCHANGED: "member",
    Rule.RELEASE_BEFORE_EPISODE: "release_on",
}
ON_OR_OFF = (("true", "Put them on the cohort's pathway"), ("false", "Take them off it"))
RELEASE_HINT = "When they leave (or left) custody: it schedules engagement and the end of support"
PERSON_ID_HINT = "Starts person-: the case page of another of their episodes shows it"


def not_asked(actor: Actor) -> dict[str, object]:
    """The values of what the forms do not ask: `actor` acts; the rest are left unset."""
    return {**dict.fromkeys(NOT_ASKED), "actor": actor}


@dataclass(frozen=True)
class CaseForm:
    slug: str  # where it posts: /cases/{case_id}/{slug}
    title: str
    button: str
    items: list[Question | Group]

    @property
    def question_names(self) -> set[str]:
        return {q.name for item in self.items for q in ((item,) if isinstance(item, Question) else item.questions)}


def case_forms(state: CaseState, role: Role) -> list[CaseForm]:
    """The forms this role may use on the case as it is now (once it has closed, only the one that
    corrects whose episode it is, until its personal data is shredded)."""
    person = [person_form(state)] if allowed(role, Action.LINK_PERSON) and not state.personal_data_shredded_at else []
    if not state.is_open:
        return person
    forms: list[CaseForm] = []
    if state.referrals and allowed(role, Action.RECORD_REFERRAL_OUTCOME):
        referrals = [(r.referral_id, f"{words(r.request.service)} ({words(r.status)})") for r in state.referrals]
        items = with_choices(form_for(RecordReferralOutcome, NOT_ASKED), "referral_id", referrals, label="Referral")
        forms.append(CaseForm("referral-outcome", "Record a referral's outcome", "Record the outcome", items))
    hearings = hearing_choices(state, role)
    if hearings:
        which = Question(HEARING_TASK, "Hearing", "", "radios", required=True, options=tuple(hearings))
        items = [which, *form_for(HearingOutcome)]
        forms.append(CaseForm("hearing-outcome", "Record a hearing's outcome", "Record the outcome", items))
    if allowed(role, Action.REQUEST_COURT_REPORT):
        items = form_for(RequestCourtReport, NOT_ASKED)
        forms.append(CaseForm("court-report", "Request a court report", "Request the report", items))
    forms.extend(learnt_forms(state, role))
    if allowed(role, Action.CLOSE_CASE):
        forms.append(CaseForm("close", "Close the case", "Close the case", form_for(CloseCase, NOT_ASKED)))
    return [*forms, *person]


def learnt_forms(state: CaseState, role: Role) -> list[CaseForm]:
    """What the case learns as it goes, for this role to record: a justice outcome, a cohort and the
    release date (on a RECONNECT episode). (The date of birth has its own form, shown while the age
    is not verified: api/templates/case.html.)"""
    forms: list[CaseForm] = []
    if allowed(role, Action.RECORD_JUSTICE_OUTCOME):
        items = relabelled(form_for(RecordJusticeOutcome, NOT_ASKED), "outcome", "Justice outcome")
        forms.append(CaseForm("justice-outcome", "Record a justice outcome", "Record the justice outcome", items))
    if allowed(role, Action.CHANGE_COHORT):
        items = with_choices(form_for(ChangeCohort, NOT_ASKED), "member", ON_OR_OFF, label="On or off the pathway")
        forms.append(CaseForm("cohort", "Change a cohort", "Change the cohort", relabelled(items, "reason", "Why?")))
    if state.care_after_custody is not None and allowed(role, Action.RECORD_RELEASE_DATE):
        items = relabelled(form_for(RecordReleaseDate, NOT_ASKED), "release_on", "Release date", RELEASE_HINT)
        forms.append(CaseForm("release-date", "Record the release date", "Record the release date", items))
    return forms


def person_form(state: CaseState) -> CaseForm:
    """Undo the link of an episode linked to a person seen before; else link it to one (`pathway
    person unlink` and `pathway person link`)."""
    if state.person_id != state.own_person_id:
        items = relabelled(form_for(UnlinkPerson, NOT_ASKED), "reason", "Why is the link wrong?")
        return CaseForm("unlink-person", "Unlink from the person seen before", "Unlink", items)
    items = relabelled(form_for(LinkPerson, NOT_ASKED), "person_id", "Person ID", PERSON_ID_HINT)
    items = relabelled(items, "basis", "How do you know it is the same person?", "")
    return CaseForm("link-person", "Link to a person seen before", "Link to the person", items)


def hearing_choices(state: CaseState, role: Role) -> list[tuple[str, str]]:
    """The open hearing outcome tasks this role can do, by the hearing they are for."""
    reports = {report.report_id: report for report in state.court_reports}
    choices = []
    for task in state.open_tasks:
        report = reports.get(task.report_id or "")
        if task.kind is TaskKind.HEARING_OUTCOME and report is not None and may_work_on(role, task.candidate_roles):
            choices.append((task.task_id, f"{local_time(report.hearing_at)} ({words(report.purpose)})"))
    return choices


def refusal_problems(refused: RuleViolation, form: CaseForm | None) -> FormProblems:
    """A refusal as form problems: beside the question it is about when the form (as the page shows
    it now) asks it, else at the top."""
    message = refused.message[:1].upper() + refused.message[1:]
    field = RULE_FIELDS.get(refused.rule)
    if form is not None and field in form.question_names:
        return FormProblems(fields={field: message})
    return FormProblems(form=[message])
