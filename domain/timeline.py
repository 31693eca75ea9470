"""Events in plain words, for the case page's timeline and the auditors' timeline.

`describe` gives one sentence built only from coded facts; what a person wrote (notes, reasons,
summaries) comes separately from `written_text`, so a page can show it as quoted text.
`known_at` is what the record held at a moment: the events recorded up to it, and their fold."""

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import overload
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from domain.events import (
    AgeBandChanged,
    AssessmentRecorded,
    CaseClosed,
    CaseHandedOff,
    CaseOpened,
    CohortChanged,
    ConsentRecorded,
    ConsentWithdrawn,
    ContactRecorded,
    CourtReportDelivered,
    CourtReportRequested,
    CourtReportSubmitted,
    DateOfBirthRecorded,
    DisengagementReviewed,
    EpisodeOpenedFromHandOff,
    Event,
    FollowUpRecorded,
    HearingOutcomeRecorded,
    InformationShared,
    JusticeOutcomeRecorded,
    LinkedEpisodeOpened,
    PersonalDataShredded,
    PersonLinked,
    PersonUnlinked,
    PossibleMatchRejected,
    ReconnectEngagementRecorded,
    ReferralChased,
    ReferralEscalated,
    ReferralMade,
    ReferralOutcomeRecorded,
    ReferralSendFailed,
    ReferralSent,
    ReleaseDateRecorded,
    ReminderSent,
    SafeguardingOverrideRecorded,
    ScreeningRecorded,
    StageEntered,
    StoredEvent,
    SupportEnded,
    SupportStarted,
    TaskBecameOverdue,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
    TaskEscalated,
    TaskOpened,
    TaskReassigned,
    TaskScheduled,
    WomensPathwayDecided,
)
from domain.model import Actor, AgeBand
from domain.state import CaseState, fold

LINK_BASES = {
    "nhs_number": "the same NHS number",
    "confirmed_match": "a possible previous contact, confirmed",
    "practitioner": "linked by a practitioner",
}
UK = ZoneInfo("Europe/London")  # the time people in England read, whatever a value's own zone


@overload
def in_uk(moment: datetime) -> datetime: ...
@overload
def in_uk(moment: None) -> None: ...
def in_uk(moment: datetime | None) -> datetime | None:
    """A time typed without a zone is UK time (a day alone: its start); one with a zone stays as it is."""
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UK)


def when(moment: datetime) -> str:
    """A time as people in England read it."""
    return moment.astimezone(UK).strftime("%d %b %Y %H:%M")


def day(moment: datetime) -> str:
    return moment.astimezone(UK).strftime("%d %b %Y")


def words(code: str | StrEnum) -> str:
    """A code as lower-case words: "share_court" -> "share court"."""
    return str(code).replace("_", " ")


def listed(codes: Sequence[StrEnum]) -> str:
    return ", ".join(words(code) for code in codes) or "none"


def describe(event: Event) -> str:
    match event:
        case CaseOpened():
            opened = f"Case opened at {event.site} ({words(event.setting)}), raised by {words(event.source)}"
            if event.identified_at is not None:
                opened += f"; identified {when(event.identified_at)}"
            return opened + ("" if event.age_verified is not False else "; age not verified")
        case DateOfBirthRecorded():
            return f"Date of birth recorded: age verified ({words(event.age_band)})"
        case WomensPathwayDecided():
            return f"Women's pathway offered: {event.decision}"
        case CohortChanged():
            return f"{'Put on' if event.member else 'Taken off'} the {words(event.cohort)} cohort"
        case AgeBandChanged():
            return f"Moved from the {_pathway(event.previous)} to the {_pathway(event.age_band)}: {event.reason}"
        case StageEntered():
            return f"Moved to {words(event.stage)}"
        case ConsentRecorded(decision="given"):
            return f"Consent given for: {listed(event.scope)}"
        case ConsentRecorded():
            return "Consent declined"
        case ConsentWithdrawn():
            return "Consent withdrawn"
        case SafeguardingOverrideRecorded():
            return f"Carried on without consent on the lawful basis of {words(event.lawful_basis)}"
        case ScreeningRecorded():
            screening = event.outcome
            return (
                f"Screened ({screening.instrument} v{screening.instrument_version}): {words(screening.urgency)}, "
                f"{words(screening.risk_level)} risk; needs: {listed(screening.domains)}"
            )
        case AssessmentRecorded():
            needs = ", ".join(f"{words(v.domain)} ({v.severity})" for v in event.outcome.vulnerabilities) or "none"
            return f"Assessed ({event.outcome.instrument}); needs: {needs}"
        case InformationShared():
            return f"Information shared with {words(event.disclosure.recipient)} on the basis of " + words(
                event.disclosure.lawful_basis
            )
        case TaskOpened():
            return f"Task opened: {words(event.task.kind)}, due {when(event.task.due_at)}"
        case TaskScheduled():
            return f"Task scheduled: {words(event.task.kind)}"
        case TaskClaimed():
            return f"Task {event.task_id} taken by {event.assignee}"
        case TaskReassigned():
            return f"Task {event.task_id} given to {event.assignee}" + (
                f" (was {event.previous})" if event.previous else ""
            )
        case TaskCompleted():
            return f"Task {event.task_id} completed"
        case TaskCancelled():
            return f"Task {event.task_id} cancelled"
        case TaskBecameOverdue():
            return f"Task {event.task_id} is overdue"
        case ReminderSent():
            return f"Reminder sent for task {event.task_id}"
        case TaskEscalated():
            return f"Task {event.task_id} escalated to the {words(event.to_role)}"
        case ReferralMade():
            return f"Referral to {words(event.request.service)} ({words(event.request.urgency)})"
        case ReferralSent():
            return f"Referral {event.referral_id} sent by {event.channel}"
        case ReferralSendFailed():
            return f"Referral {event.referral_id} could not be sent"
        case ReferralOutcomeRecorded():
            return f"Referral {event.referral_id}: {words(event.status)}"
        case ReferralChased():
            return f"Referral {event.referral_id} chased"
        case ReferralEscalated():
            return f"Referral {event.referral_id} escalated"
        case SupportStarted():
            return f"Link work started; goals: {listed(event.goals)}; until {day(event.ends_at)}"
        case ContactRecorded():
            return f"Contact: {words(event.attendance)}; goals progressed: {listed(event.goals_progressed)}"
        case DisengagementReviewed():
            return f"Disengagement reviewed: {event.decision}"
        case SupportEnded():
            return f"Link work ended ({words(event.reason)})"
        case FollowUpRecorded():
            engaged = "engaged" if event.engaged_with_services else "not engaged"
            return f"Follow-up: {engaged} with services"
        case CourtReportRequested():
            return (
                f"Court report requested ({words(event.purpose)}) for the hearing on "
                f"{when(event.hearing_at)}, due {when(event.due_at)}"
            )
        case CourtReportSubmitted():
            return f"Court report written {'on time' if event.on_time else 'late'}; {words(event.risk)} risk"
        case CourtReportDelivered():
            return f"Court report delivered to {listed(event.recipients)}"
        case HearingOutcomeRecorded():
            return f"Hearing outcome: {words(event.result)}"
        case CaseHandedOff():
            to = "the youth justice service" if event.to == "youth_justice" else "RECONNECT"
            return f"Handed off to {to}"
        case JusticeOutcomeRecorded():
            return f"Justice outcome learned from the {event.source}: {words(event.outcome)}"
        case LinkedEpisodeOpened():
            return f"RECONNECT episode {event.linked_case_id} opened for care after custody"
        case EpisodeOpenedFromHandOff():
            return (
                f"RECONNECT episode opened from case {event.linked_case_id} ({words(event.hearing_result)}); "
                f"engages up to {event.engage_before_release_weeks} weeks before release, supports up to "
                f"{event.support_after_release_months} months after"
            )
        case ReleaseDateRecorded():
            return (
                f"Release date recorded: {event.release_on:%d %b %Y}; engagement from {day(event.engage_from)}, "
                f"support until {day(event.support_until)}"
            )
        case ReconnectEngagementRecorded():
            return f"RECONNECT engagement: {'engaged' if event.engaged else 'not engaged'}"
        case CaseClosed():
            justice = f"; justice outcome: {words(event.justice_outcome)}" if event.justice_outcome else ""
            return f"Case closed ({words(event.reason)}){justice}"
        case PersonalDataShredded():
            return "Personal data shredded: the person's key was destroyed"
        case PersonLinked():
            return f"Linked to {event.person_id}, a person seen before ({LINK_BASES[event.basis]})"
        case PersonUnlinked():
            return f"Unlinked from {event.person_id}: the episode is its own person again"
        case PossibleMatchRejected():
            return f"Possible previous contact rejected: not {', '.join(event.candidates)}"
    raise AssertionError(f"no description for {type(event).__name__}")


def _pathway(band: AgeBand) -> str:
    return "youth pathway" if band is AgeBand.CHILD else "adult pathway"


def written_text(event: Event) -> str:
    """What a person wrote into the event, if anything (shown quoted, always escaped)."""
    match event:
        case ConsentWithdrawn() | DisengagementReviewed() | TaskCancelled() | ReferralSendFailed() | CohortChanged():
            return event.reason
        case ReferralOutcomeRecorded():
            return event.reason
        case SafeguardingOverrideRecorded():
            return event.justification
        case ScreeningRecorded():
            return event.outcome.note
        case InformationShared():
            return event.disclosure.summary
        case ReferralMade():
            return event.request.reason
        case ContactRecorded() | CaseClosed():
            return event.note
        case FollowUpRecorded():
            return event.concerns
        case PersonalDataShredded() | PersonUnlinked():
            return event.reason
        case PersonLinked():
            return event.note
        case CourtReportSubmitted():
            return f"{event.presenting_needs}\n\n{event.recommendations}"
    return ""


class TimelineEntry(BaseModel):
    """One event as an auditor reads it."""

    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    description: str
    written: str = ""


def timeline_entry(stored: StoredEvent) -> TimelineEntry:
    return TimelineEntry(
        seq=stored.seq,
        event_id=stored.event_id,
        type=stored.event.type,
        occurred_at=stored.occurred_at,
        recorded_at=stored.recorded_at,
        actor=stored.actor,
        description=describe(stored.event),
        written=written_text(stored.event),
    )


def known_at(case_id: str, events: Sequence[StoredEvent], as_of: datetime) -> tuple[list[StoredEvent], CaseState]:
    """The events recorded by `as_of` and the case state they make: what the record held then
    (recorded, not occurred: a fact entered late was not known before it was entered)."""
    known = [event for event in events if event.recorded_at <= as_of]
    return known, fold(case_id, known)
