"""Court reports: requested for a hearing, written by a practitioner by their due time (reminded and
escalated like any task), then the hearing's outcome recorded once it has happened."""

from datetime import timedelta

from domain.commands import RequestCourtReport
from domain.decisions import DecisionContext, new_task, require, schedule_task, setting_of
from domain.errors import Rule
from domain.events import (
    CaseHandedOff,
    CourtReportDelivered,
    CourtReportRequested,
    CourtReportSubmitted,
    DomainEvent,
    HearingOutcomeRecorded,
    TaskCompleted,
)
from domain.outcomes import CourtReportOutcome, HearingOutcome, Recipient, Urgency
from domain.reconnect import HAND_OFF_REFERRAL, hand_off
from domain.services import consent_scope_needed
from domain.state import CaseState
from domain.tasks import Task, TaskKind


def request_report(state: CaseState, command: RequestCourtReport, ctx: DecisionContext) -> list[DomainEvent]:
    require(
        state.may_proceed_without_consent,
        Rule.REPORT_REQUIRES_CONSENT,
        "a court report can only be written after consent is given or a safeguarding override recorded",
    )
    require(command.hearing_at > ctx.now, Rule.HEARING_IN_PAST, f"the hearing time {command.hearing_at} has passed")
    if not state.safeguarding_override:
        uncovered = [str(r) for r in command.recipients if consent_scope_needed(r, ctx) not in state.consent_scope]
        require(
            not uncovered,
            Rule.REPORT_NEEDS_CONSENT_SCOPE,
            f"the person's consent does not cover sharing with: {', '.join(uncovered)}",
        )
    unreachable = [
        str(r)
        for r in command.recipients
        if ctx.site.court_report_address(setting_of(state), state.age_band, r) is None
    ]
    require(
        not unreachable,
        Rule.RECIPIENT_WITHOUT_ADDRESS,
        f"site {ctx.site.site_id} has no address for court reports to: {', '.join(unreachable)}",
    )
    due_at = command.due_at or command.hearing_at - timedelta(minutes=ctx.site.court_report_lead_minutes)
    require(due_at > ctx.now, Rule.DUE_IN_PAST, f"the report would be due at {due_at}, which has passed")
    require(due_at <= command.hearing_at, Rule.DUE_AFTER_HEARING, "a report must be due before its hearing")
    report_id = ctx.new_id()
    write = new_task(ctx, TaskKind.COURT_REPORT, setting_of(state), Urgency.URGENT, due_at=due_at, report_id=report_id)
    return [
        CourtReportRequested(
            report_id=report_id,
            purpose=command.purpose,
            hearing_at=command.hearing_at,
            due_at=due_at,
            recipients=tuple(dict.fromkeys(command.recipients)),
        ),
        write,
        schedule_task(state, ctx, TaskKind.HEARING_OUTCOME, command.hearing_at, report_id=report_id),
    ]


def record_delivery(state: CaseState, report_id: str, recipients: tuple[Recipient, ...]) -> list[DomainEvent]:
    report = next((r for r in state.court_reports if r.report_id == report_id), None)
    require(report is not None, Rule.REPORT_UNKNOWN, f"case {state.case_id} has no court report {report_id}")
    assert report is not None
    require(
        bool(recipients) and set(recipients) <= set(report.recipients),
        Rule.DELIVERY_RECIPIENTS,
        f"court report {report_id} goes to {', '.join(report.recipients)}, not to {', '.join(recipients) or 'nobody'}",
    )
    require(report.submitted_at is not None, Rule.REPORT_NOT_SUBMITTED, f"court report {report_id} is not written yet")
    require(not report.delivered_to, Rule.REPORT_ALREADY_DELIVERED, f"court report {report_id} was already delivered")
    return [CourtReportDelivered(report_id=report_id, recipients=recipients)]


def submit_report(
    state: CaseState, task: Task, outcome: CourtReportOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    assert task.report_id is not None
    submitted = CourtReportSubmitted(
        report_id=task.report_id,
        on_time=ctx.now <= task.due_at,
        risk=outcome.risk,
        presenting_needs=outcome.presenting_needs,
        recommendations=outcome.recommendations,
    )
    return [submitted, done]


def record_hearing(
    state: CaseState, task: Task, outcome: HearingOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    assert task.report_id is not None
    recorded = HearingOutcomeRecorded(
        report_id=task.report_id, result=outcome.result, next_hearing_at=outcome.next_hearing_at
    )
    if not outcome.hand_off_to_reconnect:
        return [recorded, done]
    if ctx.patched(HAND_OFF_REFERRAL):
        return [recorded, done, *hand_off(state, outcome, task.task_id, ctx)]
    # As histories recorded before the hand-off referred the person decided it: the hand-off only noted.
    require(state.handed_off_to is None, Rule.ALREADY_HANDED_OFF, f"the case was handed off to {state.handed_off_to}")
    return [recorded, done, CaseHandedOff(to="reconnect", reason=f"hearing result: {outcome.result}")]
