"""Events in plain words (domain/timeline.py): one sentence of coded facts per event, written text apart."""

from datetime import UTC, date, datetime
from typing import Any, get_args

import pytest

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
    DomainEvent,
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
from domain.model import AgeBand, Cohort, Person, ReferralSource, Role, Setting, Stage
from domain.outcomes import (
    AssessmentOutcome,
    ClosureReason,
    ConsentScope,
    CourtReportPurpose,
    Disclosure,
    GoalArea,
    HearingResult,
    JusticeOutcome,
    LawfulBasis,
    Recipient,
    ReferralRequest,
    ReferralStatus,
    RiskLevel,
    ScreeningOutcome,
    ServiceType,
    Urgency,
    Vulnerability,
    VulnerabilityDomain,
)
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind
from domain.timeline import describe, written_text

# Winter, so UTC and London agree and a formatted time is right either way.
WINTER = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

# Free text people write; none of it may appear in a description.
NOTE = "secret note"
REASON = "private reason"
JUSTIFICATION = "justification in confidence"
SUMMARY = "disclosed summary text"
PURPOSE = "purpose of the disclosure"
NEEDS = "presenting needs text"
ADVICE = "recommendations text"
CONCERNS = "worrying concerns"
ACTION = "safeguarding action taken"
ANSWER = "answer given in interview"
NAME = "Jane Example"
EXTERNAL_REF = "CUST/2026/7777"

FREE_TEXT = (NOTE, REASON, JUSTIFICATION, SUMMARY, PURPOSE, NEEDS, ADVICE, CONCERNS, ACTION, ANSWER, NAME, EXTERNAL_REF)


def event_types() -> set[type[DomainEvent]]:
    union, *_ = get_args(Event)  # Annotated[Union[...], Field(discriminator="type")]
    members: tuple[type[DomainEvent], ...] = get_args(union)
    assert members, "Event should be an annotated union of event types"
    return set(members)


def task(kind: TaskKind = TaskKind.SHARE_INFORMATION, due_at: datetime = WINTER) -> Task:
    return Task(
        task_id="task-7",
        kind=kind,
        site="demo",
        candidate_roles=CANDIDATE_ROLES[kind],
        due_at=due_at,
        opened_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    )


def court_report_requested(hearing_at: datetime, due_at: datetime) -> CourtReportRequested:
    return CourtReportRequested(
        report_id="report-1",
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=hearing_at,
        due_at=due_at,
        recipients=(Recipient.COURT, Recipient.DEFENCE),
    )


# One event of every type, with free text wherever the event can hold some.
SAMPLES: list[Any] = [
    CaseOpened(
        site="demo",
        setting=Setting.VOLUNTARY_ATTENDANCE,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=EXTERNAL_REF,
        age_band=AgeBand.ADULT,
        person=Person(name=NAME),
    ),
    DateOfBirthRecorded(date_of_birth="1990-01-02", age_band=AgeBand.ADULT),
    AgeBandChanged(previous=AgeBand.CHILD, age_band=AgeBand.ADULT, reason="the date of birth shows an adult"),
    WomensPathwayDecided(decision="accepted"),
    ReleaseDateRecorded(
        release_on=date(2027, 3, 1),
        engage_from=datetime(2026, 12, 7, tzinfo=UTC),
        support_until=datetime(2027, 9, 1, tzinfo=UTC),
    ),
    ReconnectEngagementRecorded(engaged=True),
    CohortChanged(cohort=Cohort.VETERAN, member=True, reason=REASON),
    StageEntered(stage=Stage.INFORMATION_SHARING, previous=Stage.ASSESSMENT),
    ConsentRecorded(decision="given", scope=(ConsentScope.ASSESSMENT, ConsentScope.SHARE_COURT)),
    ConsentWithdrawn(reason=REASON),
    SafeguardingOverrideRecorded(lawful_basis=LawfulBasis.VITAL_INTERESTS, justification=JUSTIFICATION),
    ScreeningRecorded(
        outcome=ScreeningOutcome(
            instrument="ld-screen",
            instrument_version="2",
            urgency=Urgency.URGENT,
            domains=[VulnerabilityDomain.MENTAL_HEALTH, VulnerabilityDomain.HOUSING],
            risk_level=RiskLevel.MEDIUM,
            assessment_needed=True,
            note=NOTE,
        )
    ),
    AssessmentRecorded(
        outcome=AssessmentOutcome(
            instrument="ld-assess",
            instrument_version="1",
            answers={"q1": ANSWER},
            vulnerabilities=[
                Vulnerability(domain=VulnerabilityDomain.MENTAL_HEALTH, severity="moderate"),
                Vulnerability(domain=VulnerabilityDomain.SUBSTANCE_MISUSE, severity="severe"),
            ],
            safeguarding_actions=[ACTION],
        )
    ),
    InformationShared(
        disclosure=Disclosure(
            recipient=Recipient.CUSTODY_SERGEANT, purpose=PURPOSE, lawful_basis=LawfulBasis.CONSENT, summary=SUMMARY
        )
    ),
    TaskOpened(task=task()),
    TaskClaimed(task_id="task-7", assignee="prac-1"),
    TaskReassigned(task_id="task-7", assignee="prac-2", previous="prac-1"),
    TaskCompleted(task_id="task-7"),
    TaskCancelled(task_id="task-7", reason=REASON),
    TaskBecameOverdue(task_id="task-7"),
    ReminderSent(task_id="task-7"),
    TaskEscalated(task_id="task-7"),
    ReferralMade(
        referral_id="ref-1",
        request=ReferralRequest(service=ServiceType.MENTAL_HEALTH, reason=REASON, urgency=Urgency.URGENT),
    ),
    ReferralSent(referral_id="ref-1", channel="email"),
    ReferralSendFailed(referral_id="ref-1", reason=REASON),
    ReferralOutcomeRecorded(referral_id="ref-1", status=ReferralStatus.DECLINED_BY_PERSON, reason=REASON),
    ReferralChased(referral_id="ref-1"),
    ReferralEscalated(referral_id="ref-1"),
    TaskScheduled(task=task(TaskKind.FOLLOW_UP)),
    SupportStarted(goals=(GoalArea.HOUSING, GoalArea.MENTAL_HEALTH), ends_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),
    ContactRecorded(attendance="did_not_attend", note=NOTE),
    DisengagementReviewed(decision="continue", reason=REASON),
    SupportEnded(reason="ended_after_review"),
    FollowUpRecorded(engaged_with_services=False, concerns=CONCERNS),
    court_report_requested(hearing_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC), due_at=WINTER),
    CourtReportSubmitted(
        report_id="report-1", on_time=False, risk=RiskLevel.HIGH, presenting_needs=NEEDS, recommendations=ADVICE
    ),
    CourtReportDelivered(report_id="report-1", recipients=(Recipient.COURT, Recipient.CPS)),
    HearingOutcomeRecorded(report_id="report-1", result=HearingResult.REMAND_IN_CUSTODY),
    CaseHandedOff(to="reconnect", reason=REASON),
    JusticeOutcomeRecorded(outcome=JusticeOutcome.CHARGED_REMANDED),
    LinkedEpisodeOpened(linked_case_id="case-2"),
    EpisodeOpenedFromHandOff(
        linked_case_id="case-1",
        site="demo",
        setting=Setting.MAGISTRATES_COURT,
        age_band=AgeBand.ADULT,
        service_id="demo-reconnect",
        hearing_result=HearingResult.REMAND_IN_CUSTODY,
        engage_before_release_weeks=12,
        support_after_release_months=6,
    ),
    CaseClosed(reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CONDITIONAL_CAUTION, note=NOTE),
    PersonalDataShredded(person_id="person-1", reason=REASON),
    PersonLinked(person_id="person-2", basis="practitioner", previous="person-1", note=NOTE),
    PersonUnlinked(person_id="person-2", reason=REASON),
    PossibleMatchRejected(candidates=("person-3", "person-4")),
]


def test_there_is_a_sample_of_every_event_type() -> None:
    sampled = [type(event) for event in SAMPLES]
    assert len(sampled) == len(set(sampled)), "one sample per type"
    assert set(sampled) == event_types()
    assert len(event_types()) == 47


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_has_a_one_sentence_description(event: Event) -> None:
    sentence = describe(event)
    assert sentence.strip() == sentence != ""
    assert "\n" not in sentence
    assert sentence[0].isupper()
    assert "_" not in sentence, "codes are written as words"
    assert "None" not in sentence


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_descriptions_hold_no_free_text(event: Event) -> None:
    sentence = describe(event).lower()
    for text in FREE_TEXT:
        assert text.lower() not in sentence


def test_the_descriptions_tell_events_apart() -> None:
    sentences = [describe(event) for event in SAMPLES]
    assert len(set(sentences)) == len(sentences)


WRITTEN: list[tuple[Any, str]] = [
    (ConsentWithdrawn(reason=REASON), REASON),
    (SafeguardingOverrideRecorded(lawful_basis=LawfulBasis.SAFEGUARDING, justification=JUSTIFICATION), JUSTIFICATION),
    (TaskCancelled(task_id="task-7", reason=REASON), REASON),
    (ReferralSendFailed(referral_id="ref-1", reason=REASON), REASON),
    (ReferralOutcomeRecorded(referral_id="ref-1", status=ReferralStatus.REJECTED, reason=REASON), REASON),
    (DisengagementReviewed(decision="end", reason=REASON), REASON),
    (ContactRecorded(attendance="attended", note=NOTE), NOTE),
    (CaseClosed(reason=ClosureReason.OTHER, note=NOTE), NOTE),
    (PersonalDataShredded(person_id="person-1", reason=REASON), REASON),
    (PersonLinked(person_id="person-2", basis="confirmed_match", note=NOTE), NOTE),
    (PersonUnlinked(person_id="person-2", reason=REASON), REASON),
    (FollowUpRecorded(engaged_with_services=True, concerns=CONCERNS), CONCERNS),
    (
        ReferralMade(referral_id="ref-1", request=ReferralRequest(service=ServiceType.HOUSING, reason=REASON)),
        REASON,
    ),
    (
        CourtReportSubmitted(
            report_id="report-1", on_time=True, risk=RiskLevel.LOW, presenting_needs=NEEDS, recommendations=ADVICE
        ),
        f"{NEEDS}\n\n{ADVICE}",
    ),
]


@pytest.mark.parametrize(("event", "text"), WRITTEN, ids=lambda value: type(value).__name__)
def test_written_text_is_what_the_person_wrote(event: Event, text: str) -> None:
    assert written_text(event) == text
    assert text.split("\n")[0] not in describe(event)


def test_written_text_of_screening_and_sharing() -> None:
    screening = next(event for event in SAMPLES if isinstance(event, ScreeningRecorded))
    assert written_text(screening) == NOTE
    shared = next(event for event in SAMPLES if isinstance(event, InformationShared))
    assert SUMMARY in written_text(shared)


def test_a_contact_note_is_written_text_and_not_in_the_description() -> None:
    contact = ContactRecorded(attendance="attended", goals_progressed=(GoalArea.DEBT,), note="secret note")
    assert "secret note" not in describe(contact)
    assert written_text(contact) == "secret note"


def test_empty_written_text_is_empty() -> None:
    assert written_text(ContactRecorded(attendance="late")) == ""
    assert written_text(CaseClosed(reason=ClosureReason.TRANSFERRED)) == ""


NO_WRITTEN_TEXT = (
    CaseOpened,
    StageEntered,
    ConsentRecorded,
    TaskOpened,
    TaskScheduled,
    TaskClaimed,
    TaskReassigned,
    TaskCompleted,
    TaskBecameOverdue,
    ReminderSent,
    TaskEscalated,
    ReferralSent,
    ReferralChased,
    ReferralEscalated,
    SupportStarted,
    SupportEnded,
    CourtReportRequested,
    CourtReportDelivered,
    HearingOutcomeRecorded,
    PossibleMatchRejected,
)


@pytest.mark.parametrize(
    "event", [e for e in SAMPLES if isinstance(e, NO_WRITTEN_TEXT)], ids=lambda event: type(event).__name__
)
def test_events_of_coded_facts_only_have_no_written_text(event: Event) -> None:
    assert written_text(event) == ""


# --- exact sentences -------------------------------------------------------------------------------------

SENTENCES: list[tuple[Any, str]] = [
    (
        ConsentRecorded(decision="given", scope=(ConsentScope.ASSESSMENT, ConsentScope.SHARE_COURT)),
        "Consent given for: assessment, share court",
    ),
    (ConsentRecorded(decision="declined"), "Consent declined"),
    (
        ReferralMade(
            referral_id="ref-1",
            request=ReferralRequest(service=ServiceType.MENTAL_HEALTH, reason=REASON, urgency=Urgency.URGENT),
        ),
        "Referral to mental health (urgent)",
    ),
    (
        ReferralMade(referral_id="ref-2", request=ReferralRequest(service=ServiceType.DEBT_ADVICE, reason=REASON)),
        "Referral to debt advice (routine)",
    ),
    (
        CaseClosed(
            reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CONDITIONAL_CAUTION, note=NOTE
        ),
        "Case closed (pathway complete); justice outcome: conditional caution",
    ),
    (CaseClosed(reason=ClosureReason.CONSENT_DECLINED), "Case closed (consent declined)"),
    (
        ContactRecorded(attendance="attended", goals_progressed=(GoalArea.HOUSING, GoalArea.DEBT), note=NOTE),
        "Contact: attended; goals progressed: housing, debt",
    ),
    (ContactRecorded(attendance="did_not_attend"), "Contact: did not attend; goals progressed: none"),
    (
        ScreeningRecorded(
            outcome=ScreeningOutcome(
                instrument="ld-screen",
                instrument_version="2",
                urgency=Urgency.URGENT,
                domains=[VulnerabilityDomain.MENTAL_HEALTH, VulnerabilityDomain.HOUSING],
                risk_level=RiskLevel.MEDIUM,
                assessment_needed=True,
            )
        ),
        "Screened (ld-screen v2): urgent, medium risk; needs: mental health, housing",
    ),
    (
        InformationShared(
            disclosure=Disclosure(
                recipient=Recipient.CUSTODY_SERGEANT,
                purpose=PURPOSE,
                lawful_basis=LawfulBasis.CONSENT,
                summary=SUMMARY,
            )
        ),
        "Information shared with custody sergeant on the basis of consent",
    ),
    (
        SafeguardingOverrideRecorded(lawful_basis=LawfulBasis.VITAL_INTERESTS, justification=JUSTIFICATION),
        "Carried on without consent on the lawful basis of vital interests",
    ),
    (TaskOpened(task=task()), "Task opened: share information, due 02 Mar 2026 14:30"),
    (
        TaskReassigned(task_id="task-7", assignee="prac-2", previous="prac-1"),
        "Task task-7 given to prac-2 (was prac-1)",
    ),
    (TaskReassigned(task_id="task-7", assignee="prac-2", previous=None), "Task task-7 given to prac-2"),
    (TaskEscalated(task_id="task-7"), "Task task-7 escalated to the team lead"),
    (TaskEscalated(task_id="task-7", to_role=Role.PRACTITIONER), "Task task-7 escalated to the practitioner"),
    (FollowUpRecorded(engaged_with_services=False), "Follow-up: not engaged with services"),
    (FollowUpRecorded(engaged_with_services=True), "Follow-up: engaged with services"),
    (
        CourtReportSubmitted(
            report_id="report-1", on_time=False, risk=RiskLevel.HIGH, presenting_needs=NEEDS, recommendations=ADVICE
        ),
        "Court report written late; high risk",
    ),
    (CaseHandedOff(to="reconnect", reason="hearing result: remand_in_custody"), "Handed off to RECONNECT"),
    (
        CaseHandedOff(to="youth_justice", reason="hearing result: remand_in_custody"),
        "Handed off to the youth justice service",
    ),
    (
        JusticeOutcomeRecorded(outcome=JusticeOutcome.CUSTODIAL_SENTENCE),
        "Justice outcome learned from the hearing: custodial sentence",
    ),
    (LinkedEpisodeOpened(linked_case_id="case-2"), "RECONNECT episode case-2 opened for care after custody"),
    (StageEntered(stage=Stage.INFORMATION_SHARING, previous=None), "Moved to information sharing"),
]


@pytest.mark.parametrize(("event", "sentence"), SENTENCES, ids=lambda value: getattr(value, "type", None))
def test_exact_sentences(event: Event, sentence: str) -> None:
    assert describe(event) == sentence


# --- times -----------------------------------------------------------------------------------------------

# The store hands every datetime back in UTC; the rest of the case page shows London time (api/web.py
# local_time). In summer London is UTC+1, so 09:00 UTC is 10:00 on the wall clock.
SUMMER_NINE_UTC = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        (
            TaskOpened(task=task(due_at=SUMMER_NINE_UTC)),
            "Task opened: share information, due 01 Jul 2026 10:00",
        ),
        (
            court_report_requested(
                hearing_at=datetime(2026, 7, 2, 9, 0, tzinfo=UTC), due_at=datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
            ),
            "Court report requested (bail or remand) for the hearing on 02 Jul 2026 10:00, due 01 Jul 2026 16:00",
        ),
    ],
    ids=["TaskOpened", "CourtReportRequested"],
)
def test_times_are_london_times(event: Event, sentence: str) -> None:
    assert describe(event) == sentence


def test_times_in_winter() -> None:
    requested = court_report_requested(hearing_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC), due_at=WINTER)
    assert describe(requested) == (
        "Court report requested (bail or remand) for the hearing on 04 Mar 2026 10:00, due 02 Mar 2026 14:30"
    )
    started = SupportStarted(goals=(GoalArea.HOUSING,), ends_at=datetime(2026, 3, 30, 9, 0, tzinfo=UTC))
    assert describe(started) == "Link work started; goals: housing; until 30 Mar 2026"
