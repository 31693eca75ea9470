"""Youth services (issue 17): CAMHS and the youth justice service for children, the service types
each age band can be referred to, RECONNECT only through the hand-off, and sharing with the youth
justice service as its own recipient and consent scope. Every refusal by its rule id, with the case
left as it was."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import JsonValue

from domain.commands import CompleteTask, RequestCourtReport, ShareInformation
from domain.config import RetentionConfig
from domain.data_return import REFERRAL_FIELDS, Month, episodes_for, referrals_for, to_csv
from domain.decisions import DecisionContext
from domain.events import InformationShared, ReferralMade, TaskOpened
from domain.fhir import ReferralParties, patient_url, service_request
from domain.fhir_terms import SERVICE_TYPE_SYSTEM
from domain.model import AgeBand, Setting, Stage
from domain.outcomes import (
    CONSENT_SCOPE_FOR_RECIPIENT,
    ConsentScope,
    CourtReportPurpose,
    Recipient,
    ReferralDecisionOutcome,
    ReferralRequest,
    ReferralStatus,
    ServiceType,
)
from domain.reporting import SHARED_WITH
from domain.retention import RecordClass, retention_of
from domain.rules import decide
from domain.services import NOT_CHOSEN_BY_HAND, SERVICE_AGE_BANDS, YOUTH_SERVICES, age_bands_for, for_age_band, suits
from domain.state import CaseState, Referral
from domain.tasks import TaskKind
from tests.domain.support import (
    CHILD_ASSESSMENT,
    NOW,
    PRACTITIONER,
    Case,
    consent_given,
    disclosure,
    dump,
    make_site,
    open_case,
    refused,
    screening,
    share,
)


def decision(*services: ServiceType) -> dict[str, JsonValue]:
    return dump(
        ReferralDecisionOutcome(referrals=[ReferralRequest(service=s, reason="needs support") for s in services])
    )


def deciding(age_band: AgeBand, *scope: ConsentScope) -> Case:
    """A case of this age band with its referral decision task open."""
    case = Case(make_site())
    setting = Setting.YOUTH_COURT if age_band is AgeBand.CHILD else Setting.CUSTODY
    case.send(open_case(setting=setting, age_band=age_band))
    guardian = True if age_band is AgeBand.CHILD else None
    case.complete(TaskKind.CONSENT, consent_given(*scope, guardian=guardian))
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    assert case.stage() is Stage.REFERRAL
    return case


def decide_referrals(case: Case, *services: ServiceType) -> CompleteTask:
    return CompleteTask(
        actor=PRACTITIONER, task_id=case.task(TaskKind.REFERRAL_DECISION).task_id, outcome=decision(*services)
    )


# --- which service types suit whom ----------------------------------------------------------------


def test_the_new_service_types_come_last_with_their_codes() -> None:
    # Appended, so every stored code and the data return's order of codes stay as they were.
    assert [s.value for s in ServiceType][-3:] == ["camhs", "youth_justice", "reconnect"]


def test_a_child_is_referred_to_camhs_and_the_youth_justice_service() -> None:
    case = deciding(AgeBand.CHILD)
    events = case.send(decide_referrals(case, ServiceType.CAMHS, ServiceType.YOUTH_JUSTICE))
    made = [e.request for e in events if isinstance(e, ReferralMade)]
    assert [(r.service, r.service_id) for r in made] == [
        (ServiceType.CAMHS, "camhs-1"),
        (ServiceType.YOUTH_JUSTICE, "youth_justice-1"),
    ]
    assert [r.status for r in case.state.referrals] == [ReferralStatus.DRAFTED, ReferralStatus.DRAFTED]


@pytest.mark.parametrize(
    ("age_band", "service", "instead"),
    [
        (AgeBand.CHILD, ServiceType.MENTAL_HEALTH, "refer to camhs instead"),
        (AgeBand.ADULT, ServiceType.CAMHS, "refer to mental_health instead"),
        (AgeBand.ADULT, ServiceType.YOUTH_JUSTICE, "it takes children (10-17)"),
    ],
)
def test_a_service_type_for_the_other_age_band_is_refused(
    age_band: AgeBand, service: ServiceType, instead: str
) -> None:
    case = deciding(age_band)
    violation = refused(case, decide_referrals(case, service), "service_not_for_age_band")
    assert str(service) in violation.message and instead in violation.message
    assert case.state.referrals == ()
    assert case.task(TaskKind.REFERRAL_DECISION)  # still open


def test_one_unsuitable_request_refuses_the_whole_decision() -> None:
    case = deciding(AgeBand.CHILD)
    refused(case, decide_referrals(case, ServiceType.HOUSING, ServiceType.MENTAL_HEALTH), "service_not_for_age_band")
    assert case.state.referrals == ()


@pytest.mark.parametrize("age_band", list(AgeBand))
def test_reconnect_is_not_chosen_in_a_referral_decision(age_band: AgeBand) -> None:
    case = deciding(age_band)
    violation = refused(case, decide_referrals(case, ServiceType.RECONNECT), "service_not_chosen_by_hand")
    assert "hand-off" in violation.message


@pytest.mark.parametrize(
    "service", [s for s in ServiceType if s not in SERVICE_AGE_BANDS and s not in NOT_CHOSEN_BY_HAND]
)
@pytest.mark.parametrize("age_band", list(AgeBand))
def test_the_other_service_types_take_both_age_bands(service: ServiceType, age_band: AgeBand) -> None:
    case = deciding(age_band)
    events = case.send(decide_referrals(case, service))
    assert [e.request.service for e in events if isinstance(e, ReferralMade)] == [service]


def test_each_age_banded_type_has_a_counterpart_or_none() -> None:
    assert age_bands_for(ServiceType.CAMHS) == (AgeBand.CHILD,)
    assert age_bands_for(ServiceType.YOUTH_JUSTICE) == (AgeBand.CHILD,)
    assert age_bands_for(ServiceType.MENTAL_HEALTH) == (AgeBand.ADULT,)
    assert age_bands_for(ServiceType.RECONNECT) == (AgeBand.ADULT,)
    assert for_age_band(ServiceType.MENTAL_HEALTH, AgeBand.CHILD) is ServiceType.CAMHS
    assert for_age_band(ServiceType.CAMHS, AgeBand.ADULT) is ServiceType.MENTAL_HEALTH
    assert for_age_band(ServiceType.RECONNECT, AgeBand.CHILD) is ServiceType.YOUTH_JUSTICE
    assert for_age_band(ServiceType.YOUTH_JUSTICE, AgeBand.ADULT) is None
    assert suits(ServiceType.CAMHS, None)  # an unknown band limits nothing


# --- what the referral decision suggests ----------------------------------------------------------


def suggestions(case: Case) -> tuple[ServiceType, ...]:
    return case.task(TaskKind.REFERRAL_DECISION).suggested_services


def test_a_childs_mental_health_need_suggests_camhs_and_the_youth_justice_service() -> None:
    case = deciding(AgeBand.CHILD)  # screening flagged mental health and housing
    assert suggestions(case) == (ServiceType.CAMHS, ServiceType.HOUSING, ServiceType.YOUTH_JUSTICE)


def test_an_adults_mental_health_need_suggests_the_mental_health_team_only() -> None:
    case = deciding(AgeBand.ADULT)
    assert suggestions(case) == (ServiceType.MENTAL_HEALTH, ServiceType.HOUSING)


def test_an_assessment_recommending_adult_services_for_a_child_suggests_the_childs_instead() -> None:
    case = Case(make_site())
    case.send(open_case(setting=Setting.YOUTH_COURT, age_band=AgeBand.CHILD))
    case.complete(TaskKind.CONSENT, consent_given(guardian=True))
    case.complete(TaskKind.SCREENING, screening(assessment_needed=True))
    outcome: dict[str, JsonValue] = {
        "instrument": CHILD_ASSESSMENT[0],
        "instrument_version": CHILD_ASSESSMENT[1],
        "recommended_services": ["mental_health", "reconnect", "debt_advice"],
    }
    case.complete(TaskKind.ASSESSMENT, outcome)
    events = case.complete(TaskKind.SHARE_INFORMATION, share())
    [opened] = [e.task for e in events if isinstance(e, TaskOpened)]
    assert opened.suggested_services == (
        ServiceType.CAMHS,
        ServiceType.YOUTH_JUSTICE,
        ServiceType.DEBT_ADVICE,
        ServiceType.HOUSING,
    )


# --- sharing with the youth justice service -------------------------------------------------------


def test_the_youth_justice_service_is_its_own_recipient_and_consent_scope() -> None:
    assert Recipient("youth_offending_team") is Recipient.YOUTH_JUSTICE_SERVICE  # stored records still read
    assert CONSENT_SCOPE_FOR_RECIPIENT[Recipient.YOUTH_JUSTICE_SERVICE] is ConsentScope.SHARE_YOUTH_JUSTICE
    assert SHARED_WITH[Recipient.YOUTH_JUSTICE_SERVICE] == "shared_youth_justice"
    # Every recipient needs a consent scope and a report column.
    assert set(CONSENT_SCOPE_FOR_RECIPIENT) == set(Recipient) == set(SHARED_WITH)


def test_consent_to_share_with_probation_does_not_cover_the_youth_justice_service() -> None:
    case = deciding(AgeBand.CHILD, ConsentScope.ASSESSMENT, ConsentScope.SHARE_PROBATION)
    command = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.YOUTH_JUSTICE_SERVICE))
    violation = refused(case, command, "disclosure_needs_consent")
    assert "share_youth_justice" in violation.message
    assert case.state.disclosures == ()


def test_consent_to_share_with_the_youth_justice_service_covers_it() -> None:
    case = deciding(AgeBand.CHILD, ConsentScope.ASSESSMENT, ConsentScope.SHARE_YOUTH_JUSTICE)
    command = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.YOUTH_JUSTICE_SERVICE))
    assert [type(e) for e in case.send(command)] == [InformationShared]
    assert [d.recipient for d in case.state.disclosures] == [Recipient.YOUTH_JUSTICE_SERVICE]
    # ... and not probation.
    refused(
        case,
        ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.PROBATION)),
        "disclosure_needs_consent",
    )


def test_a_court_report_to_the_youth_justice_service_needs_its_consent_scope() -> None:
    site = make_site().model_copy(
        update={
            "court_report_addresses": {Recipient.COURT: "c@court.test", Recipient.YOUTH_JUSTICE_SERVICE: "y@yjs.test"}
        }
    )
    case = Case(site)
    case.send(open_case(setting=Setting.YOUTH_COURT, age_band=AgeBand.CHILD))
    case.complete(
        TaskKind.CONSENT, consent_given(ConsentScope.SHARE_COURT, ConsentScope.SHARE_PROBATION, guardian=True)
    )
    ask = RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=NOW + timedelta(hours=6),
        recipients=(Recipient.COURT, Recipient.YOUTH_JUSTICE_SERVICE),
    )
    violation = refused(case, ask, "report_needs_consent_scope")
    assert "youth_offending_team" in violation.message
    assert case.state.court_reports == ()


# --- what the records say of the new types --------------------------------------------------------


def test_a_camhs_referral_makes_the_record_a_mental_health_record() -> None:
    camhs = Referral(
        referral_id="r-1", request=ReferralRequest(service=ServiceType.CAMHS, reason="low mood"), made_at=NOW
    )
    closed = CaseState(
        case_id="case-1",
        stage=Stage.CLOSED,
        closed_at=datetime(2026, 3, 10, 12, tzinfo=UTC),
        age_band=AgeBand.CHILD,
        referrals=(camhs,),
    )
    retention = retention_of(closed, date(2011, 8, 14), RetentionConfig())
    assert RecordClass.MENTAL_HEALTH in retention.record_classes
    assert retention.keep_until == date(2046, 3, 10)  # 20 years after the end, past the 25th birthday


def test_the_data_return_and_fhir_carry_the_new_service_types() -> None:
    case = deciding(AgeBand.CHILD)
    case.send(decide_referrals(case, ServiceType.CAMHS, ServiceType.YOUTH_JUSTICE))
    episodes = episodes_for([(case.state.case_id, case.envelopes)], Month(NOW.year, NOW.month), b"k" * 32)
    text = to_csv(REFERRAL_FIELDS, referrals_for(episodes))
    assert ",camhs," in text and ",youth_justice," in text
    codes = dict(next(f.codes for f in REFERRAL_FIELDS if f.name == "service_type"))
    assert codes["camhs"] == "child and adolescent mental health services"
    request = ReferralRequest(service=ServiceType.CAMHS, reason="x" * 3)
    referral = Referral(referral_id="r-1", request=request, made_at=NOW, status=ReferralStatus.SENT)
    parties = ReferralParties(subject={"reference": patient_url("person-1")}, requester=None, performer=None)
    fhir = service_request(referral, parties, snomed=None)
    [coding] = fhir.model_dump(mode="json", exclude_none=True)["code"]["coding"]
    assert coding == {
        "system": SERVICE_TYPE_SYSTEM,
        "code": "camhs",
        "display": "child and adolescent mental health services (CAMHS)",
    }


# --- running histories ----------------------------------------------------------------------------


def before_the_patch(case: Case) -> DecisionContext:
    """The context a case's workflow decides in while replaying a history recorded before the youth
    services rules (`workflow.patched(YOUTH_SERVICES)` is false there)."""
    return DecisionContext(now=case.now, new_id=case.ids, site=case.site, patched=lambda name: name != YOUTH_SERVICES)


def test_a_history_recorded_before_the_youth_rules_replays_as_it_was_decided() -> None:
    """What was accepted then is accepted on replay, so the workflow decides as its history says."""
    child = deciding(AgeBand.CHILD, ConsentScope.ASSESSMENT, ConsentScope.SHARE_PROBATION)
    shared = ShareInformation(actor=PRACTITIONER, disclosure=disclosure(Recipient.YOUTH_JUSTICE_SERVICE))
    assert [type(e) for e in decide(child.state, shared, before_the_patch(child))] == [InformationShared]
    adult_team = decide_referrals(child, ServiceType.MENTAL_HEALTH)
    events = decide(child.state, adult_team, before_the_patch(child))
    assert [e.request.service for e in events if isinstance(e, ReferralMade)] == [ServiceType.MENTAL_HEALTH]
    # And a new decision of the same case (the patch applies) is refused.
    refused(child, adult_team, "service_not_for_age_band")
