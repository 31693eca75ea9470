"""Up to sentence, and care after custody (domain/reconnect.py): a reference whose case has reached
sentence or disposal takes no new identification; a remand or custodial sentence handed off refers an
adult to RECONNECT with a linked episode, a child to the youth justice service, and moves the L&D
episode on to closure. Every refusal by its rule id, with the case left as it was."""

from datetime import timedelta

import pytest

from domain.commands import CloseCase, CompleteTask, OpenScheduledTask, RequestCourtReport
from domain.config import ReconnectTimings, SiteConfig
from domain.errors import RuleViolation
from domain.events import (
    CaseHandedOff,
    EpisodeOpenedFromHandOff,
    JusticeOutcomeRecorded,
    LinkedEpisodeOpened,
    ReferralMade,
    SupportEnded,
    TaskCancelled,
    TaskOpened,
)
from domain.model import SYSTEM_ACTOR, AgeBand, Setting, Stage
from domain.outcomes import (
    ClosureOutcome,
    ClosureReason,
    ConsentScope,
    CourtReportOutcome,
    CourtReportPurpose,
    GoalArea,
    HearingOutcome,
    HearingResult,
    JusticeOutcome,
    Recipient,
    ReferralDecisionOutcome,
    RiskLevel,
    ServiceType,
    Urgency,
)
from domain.reconnect import OpenHandedOffEpisode, refuse_after_sentence, sentence_or_disposal
from domain.tasks import TaskKind, TaskStatus
from tests.domain.support import (
    PRACTITIONER,
    Case,
    closure,
    consent_given,
    dump,
    make_site,
    open_case,
    refused,
    screening,
    share,
)

ADDRESSES = {Recipient.COURT: "listing@court.test"}


def site(**changes: object) -> SiteConfig:
    return make_site().model_copy(update={"court_report_addresses": dict(ADDRESSES), **changes})


def court_case(age_band: AgeBand = AgeBand.ADULT, config: SiteConfig | None = None) -> Case:
    case = Case(config or site())
    setting = Setting.YOUTH_COURT if age_band is AgeBand.CHILD else Setting.MAGISTRATES_COURT
    case.send(open_case(setting=setting, age_band=age_band))
    guardian = True if age_band is AgeBand.CHILD else None
    case.complete(TaskKind.CONSENT, consent_given(*ConsentScope, guardian=guardian))
    return case


def to_hearing(case: Case) -> str:
    """Request, write and reach the hearing of a court report; the hearing outcome task's id."""
    hearing_at = case.now + timedelta(hours=6)
    case.send(
        RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=hearing_at,
            recipients=(Recipient.COURT,),
        )
    )
    outcome = CourtReportOutcome(presenting_needs="low mood", risk=RiskLevel.MEDIUM, recommendations="bail")
    case.complete(TaskKind.COURT_REPORT, dump(outcome))
    case.now = hearing_at
    [scheduled] = [t for t in case.state.tasks.values() if t.kind is TaskKind.HEARING_OUTCOME]
    case.send(OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=scheduled.task_id))
    return scheduled.task_id


def hearing(case: Case, task_id: str, result: HearingResult, hand_off: bool = False) -> list[object]:
    outcome = dump(HearingOutcome(result=result, hand_off_to_reconnect=hand_off))
    return list(case.send(CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=outcome)))


# --- up to sentence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "pointed_to"),
    [
        (HearingResult.CUSTODIAL_SENTENCE, "RECONNECT"),
        (HearingResult.COMMUNITY_ORDER, "probation"),
        (HearingResult.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT, "probation"),
        (HearingResult.HOSPITAL_ORDER, "mental health team"),
        (HearingResult.CONDITIONAL_DISCHARGE, "probation"),
        (HearingResult.NO_FURTHER_ACTION, "new arrest or charge"),
    ],
)
def test_a_sentenced_reference_takes_no_new_identification(result: HearingResult, pointed_to: str) -> None:
    case = court_case()
    hearing(case, to_hearing(case), result)
    before = case.state.model_copy(deep=True)
    with pytest.raises(RuleViolation) as caught:
        refuse_after_sentence(case.state)
    assert caught.value.rule == "case_past_sentence"
    assert pointed_to in caught.value.message and case.state.case_id in caught.value.message
    assert case.state == before


def test_a_childs_community_sentence_points_to_the_youth_justice_service() -> None:
    case = court_case(AgeBand.CHILD)
    hearing(case, to_hearing(case), HearingResult.COMMUNITY_ORDER)
    with pytest.raises(RuleViolation) as caught:
        refuse_after_sentence(case.state)
    assert caught.value.rule == "case_past_sentence" and "youth justice" in caught.value.message


@pytest.mark.parametrize("result", [HearingResult.BAIL, HearingResult.REMAND_IN_CUSTODY])
def test_before_sentence_a_new_identification_is_accepted(result: HearingResult) -> None:
    case = court_case()
    hearing(case, to_hearing(case), result)
    assert sentence_or_disposal(case.state) is None
    refuse_after_sentence(case.state)  # no refusal


def test_a_disposal_recorded_at_closure_counts_as_sentence() -> None:
    case = court_case()
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    caution = ClosureOutcome(reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CAUTION)
    case.send(CloseCase(actor=PRACTITIONER, outcome=caution))
    assert sentence_or_disposal(case.state) == "caution"
    with pytest.raises(RuleViolation) as caught:
        refuse_after_sentence(case.state)
    assert caught.value.rule == "case_past_sentence"


def test_a_charge_recorded_at_closure_is_not_a_sentence() -> None:
    case = court_case()
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    case.send(
        CloseCase(
            actor=PRACTITIONER,
            outcome=ClosureOutcome(reason=ClosureReason.TRANSFERRED, justice_outcome=JusticeOutcome.CHARGED_BAILED),
        )
    )
    refuse_after_sentence(case.state)


# --- hand-off for adults: RECONNECT ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "justice"),
    [
        (HearingResult.REMAND_IN_CUSTODY, JusticeOutcome.CHARGED_REMANDED),
        (HearingResult.CUSTODIAL_SENTENCE, JusticeOutcome.CUSTODIAL_SENTENCE),
    ],
)
def test_an_adults_hand_off_refers_to_reconnect_opens_a_linked_episode_and_moves_to_closure(
    result: HearingResult, justice: JusticeOutcome
) -> None:
    case = court_case()
    screening_task = case.task(TaskKind.SCREENING)
    events = hearing(case, to_hearing(case), result, hand_off=True)
    names = [type(e).__name__ for e in events]
    assert names[:6] == [
        "HearingOutcomeRecorded",
        "TaskCompleted",
        "JusticeOutcomeRecorded",
        "ReferralMade",
        "CaseHandedOff",
        "LinkedEpisodeOpened",
    ]
    [made] = [e for e in events if isinstance(e, ReferralMade)]
    assert made.request.service is ServiceType.RECONNECT and made.request.service_id == "reconnect-1"
    assert made.request.urgency is Urgency.URGENT
    assert [e for e in events if isinstance(e, JusticeOutcomeRecorded)] == [JusticeOutcomeRecorded(outcome=justice)]
    [linked] = [e for e in events if isinstance(e, LinkedEpisodeOpened)]
    assert linked.linked_case_id.startswith("case-")
    # The L&D episode's remaining work is called off and the closure task opens.
    assert TaskCancelled(task_id=screening_task.task_id, reason="handed off after custody") in events
    assert [t.kind for t in case.state.open_tasks] == [TaskKind.CLOSURE]
    state = case.state
    assert state.handed_off_to == "reconnect" and state.linked_case_id == linked.linked_case_id
    assert state.justice_outcome is justice and state.is_open
    assert [r.request.service for r in state.referrals] == [ServiceType.RECONNECT]
    # ... and once it has reached sentence, no new identification under its reference.
    if result is HearingResult.CUSTODIAL_SENTENCE:
        with pytest.raises(RuleViolation):
            refuse_after_sentence(state)


def test_closing_after_the_hand_off_keeps_the_justice_outcome_learned() -> None:
    case = court_case()
    hearing(case, to_hearing(case), HearingResult.REMAND_IN_CUSTODY, hand_off=True)
    case.complete(TaskKind.CLOSURE, closure(ClosureReason.TRANSFERRED))
    assert case.stage() is Stage.CLOSED
    assert case.state.justice_outcome is JusticeOutcome.CHARGED_REMANDED


def test_the_hand_off_ends_link_work_so_the_episode_can_close() -> None:
    case = court_case()
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    decision = ReferralDecisionOutcome(reason_if_none="none needed", link_work_goals=[GoalArea.HOUSING])
    case.complete(TaskKind.REFERRAL_DECISION, dump(decision))
    assert case.stage() is Stage.SUPPORT
    events = hearing(case, to_hearing(case), HearingResult.REMAND_IN_CUSTODY, hand_off=True)
    assert SupportEnded(reason="handed_off") in events
    assert not [t for t in case.state.open_tasks if t.kind is TaskKind.CONTACT]
    assert case.state.support is not None and case.state.support.end_reason == "handed_off"


def test_the_hand_off_is_refused_when_no_reconnect_service_covers_the_site() -> None:
    config = site()
    config = config.model_copy(
        update={"services": tuple(s for s in config.services if s.type is not ServiceType.RECONNECT)}
    )
    case = court_case(config=config)
    task_id = to_hearing(case)
    outcome = dump(HearingOutcome(result=HearingResult.REMAND_IN_CUSTODY, hand_off_to_reconnect=True))
    violation = refused(
        case, CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=outcome), "service_not_available"
    )
    assert "reconnect" in violation.message
    assert case.state.tasks[task_id].status is TaskStatus.OPEN


# --- hand-off for children: the youth justice service ----------------------------------------------


def test_a_childs_remand_goes_to_the_youth_justice_service_with_no_reconnect_episode() -> None:
    case = court_case(AgeBand.CHILD)
    events = hearing(case, to_hearing(case), HearingResult.REMAND_IN_CUSTODY, hand_off=True)
    [made] = [e for e in events if isinstance(e, ReferralMade)]
    assert made.request.service is ServiceType.YOUTH_JUSTICE and made.request.service_id == "youth_justice-1"
    assert CaseHandedOff(to="youth_justice", reason="hearing result: remand_in_custody") in events
    assert not [e for e in events if isinstance(e, LinkedEpisodeOpened)]
    assert case.state.linked_case_id is None and case.state.handed_off_to == "youth_justice"
    assert [t.kind for t in case.state.open_tasks] == [TaskKind.CLOSURE]


def test_a_childs_hand_off_is_refused_without_a_youth_justice_service() -> None:
    config = site()
    config = config.model_copy(
        update={"services": tuple(s for s in config.services if s.type is not ServiceType.YOUTH_JUSTICE)}
    )
    case = court_case(AgeBand.CHILD, config)
    task_id = to_hearing(case)
    outcome = dump(HearingOutcome(result=HearingResult.REMAND_IN_CUSTODY, hand_off_to_reconnect=True))
    violation = refused(
        case, CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=outcome), "service_not_available"
    )
    assert "youth justice" in violation.message


# --- the linked RECONNECT episode ------------------------------------------------------------------


def opening(**changes: object) -> OpenHandedOffEpisode:
    fields: dict[str, object] = {
        "actor": SYSTEM_ACTOR,
        "linked_case_id": "case-ld-1",
        "site": "demo",
        "setting": Setting.MAGISTRATES_COURT,
        "age_band": AgeBand.ADULT,
        "service_id": "reconnect-1",
        "hearing_result": HearingResult.REMAND_IN_CUSTODY,
    }
    return OpenHandedOffEpisode.model_validate(fields | changes)


def test_the_linked_episode_opens_with_the_sites_care_after_custody_timings() -> None:
    episode = Case(site(reconnect=ReconnectTimings(engage_before_release_weeks=10, support_after_release_months=4)))
    [opened] = episode.send(opening())
    assert isinstance(opened, EpisodeOpenedFromHandOff)
    state = episode.state
    assert state.programme == "reconnect" and state.linked_case_id == "case-ld-1" and state.stage is Stage.IDENTIFIED
    assert state.care_after_custody is not None
    assert (
        state.care_after_custody.engage_before_release_weeks,
        state.care_after_custody.support_after_release_months,
    ) == (
        10,
        4,
    )
    assert state.external_ref == "" and state.person.name is None  # no personal data copied across


def test_the_default_timings_are_twelve_weeks_before_and_six_months_after_release() -> None:
    assert ReconnectTimings() == ReconnectTimings(engage_before_release_weeks=12, support_after_release_months=6)


def test_only_the_workflow_opens_a_linked_episode() -> None:
    episode = Case(site())
    refused(episode, opening(actor=PRACTITIONER), "role_not_allowed")


def test_a_linked_episode_opens_once() -> None:
    episode = Case(site())
    episode.send(opening())
    refused(episode, opening(), "case_already_open")


def test_no_task_is_opened_twice_by_a_repeated_hand_off_on_the_events() -> None:
    case = court_case()
    hearing(case, to_hearing(case), HearingResult.REMAND_IN_CUSTODY, hand_off=True)
    opened = [e for env in case.envelopes if isinstance(e := env.event, TaskOpened) and e.task.kind is TaskKind.CLOSURE]
    assert len(opened) == 1
