"""Cohorts and the youth variant: the services a referral decision should consider
(domain/cohorts.py suggested_services, carried by the referral_decision task), and a child's consent,
which must say whether a parent or guardian was involved."""

import pytest
from pydantic import JsonValue

from domain.cohorts import suggested_services
from domain.commands import CompleteTask
from domain.config import SiteConfig
from domain.events import ConsentRecorded, DomainEvent, TaskOpened
from domain.model import AgeBand, Cohort, Setting, Stage
from domain.outcomes import (
    AssessmentOutcome,
    ConsentScope,
    RiskLevel,
    ScreeningOutcome,
    ServiceType,
    Urgency,
    VulnerabilityDomain,
)
from domain.state import CaseState, empty_state
from domain.tasks import Task, TaskKind
from tests.domain.support import (
    ADULT_ASSESSMENT,
    CHILD_ASSESSMENT,
    PRACTITIONER,
    SCREENING_INSTRUMENT,
    TEAM_LEAD,
    Case,
    assessment,
    consent_declined,
    consent_given,
    dump,
    open_case,
    refused,
    screening,
    share,
)

# --- helpers ---------------------------------------------------------------------------------------


def types(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def screened(*domains: VulnerabilityDomain) -> ScreeningOutcome:
    return ScreeningOutcome(
        instrument=SCREENING_INSTRUMENT[0],
        instrument_version=SCREENING_INSTRUMENT[1],
        urgency=Urgency.ROUTINE,
        domains=list(domains),
        risk_level=RiskLevel.LOW,
        assessment_needed=False,
    )


def assessed(*services: ServiceType, instrument: tuple[str, str] = ADULT_ASSESSMENT) -> AssessmentOutcome:
    return AssessmentOutcome(
        instrument=instrument[0], instrument_version=instrument[1], recommended_services=list(services)
    )


def state_with(
    assessment: AssessmentOutcome | None = None,
    screening: ScreeningOutcome | None = None,
    cohorts: tuple[Cohort, ...] = (),
) -> CaseState:
    return empty_state("case-1").model_copy(
        update={"assessment": assessment, "screening": screening, "cohorts": cohorts}
    )


def screening_with(*domains: VulnerabilityDomain, assessment_needed: bool = False) -> dict[str, JsonValue]:
    outcome = screened(*domains).model_copy(update={"assessment_needed": assessment_needed})
    return dump(outcome)


def referral_task(events: list[DomainEvent]) -> Task:
    [task] = [e.task for e in events if isinstance(e, TaskOpened)]
    assert task.kind is TaskKind.REFERRAL_DECISION
    return task


def consent_of(events: list[DomainEvent]) -> ConsentRecorded:
    [recorded] = [e for e in events if isinstance(e, ConsentRecorded)]
    return recorded


# --- suggested_services: a pure function of the state ---------------------------------------------


def test_nothing_known_suggests_nothing() -> None:
    assert suggested_services(empty_state("case-1")) == ()
    assert suggested_services(state_with(screening=screened())) == ()
    assert suggested_services(state_with(assessment=assessed())) == ()


def test_the_assessments_recommendations_come_first_in_their_order() -> None:
    state = state_with(assessment=assessed(ServiceType.WELLBEING, ServiceType.GP_REGISTRATION, ServiceType.HOUSING))
    assert suggested_services(state) == (ServiceType.WELLBEING, ServiceType.GP_REGISTRATION, ServiceType.HOUSING)


# What each screening domain should suggest, written out here rather than read from the module.
DOMAIN_SUGGESTIONS: dict[VulnerabilityDomain, tuple[ServiceType, ...]] = {
    VulnerabilityDomain.MENTAL_HEALTH: (ServiceType.MENTAL_HEALTH,),
    VulnerabilityDomain.SUBSTANCE_MISUSE: (ServiceType.SUBSTANCE_MISUSE,),
    VulnerabilityDomain.ALCOHOL: (ServiceType.SUBSTANCE_MISUSE,),
    VulnerabilityDomain.LEARNING_DISABILITY: (ServiceType.LEARNING_DISABILITY,),
    VulnerabilityDomain.HOUSING: (ServiceType.HOUSING,),
    VulnerabilityDomain.DEBT: (ServiceType.DEBT_ADVICE,),
    VulnerabilityDomain.DOMESTIC_ABUSE: (ServiceType.DOMESTIC_ABUSE_SUPPORT,),
    VulnerabilityDomain.AUTISM: (),
    VulnerabilityDomain.ADHD: (),
    VulnerabilityDomain.SELF_HARM_OR_SUICIDE: (),
    VulnerabilityDomain.SPEECH_LANGUAGE_COMMUNICATION: (),
    VulnerabilityDomain.TRAUMA: (),
    VulnerabilityDomain.BRAIN_INJURY: (),
    VulnerabilityDomain.PHYSICAL_HEALTH: (),
}


@pytest.mark.parametrize(("domain", "expected"), DOMAIN_SUGGESTIONS.items(), ids=str)
def test_each_screening_domain_suggests_its_service(
    domain: VulnerabilityDomain, expected: tuple[ServiceType, ...]
) -> None:
    assert suggested_services(state_with(screening=screened(domain))) == expected


def test_every_screening_domain_is_in_the_table_above() -> None:
    # A new vulnerability domain must be given a service (or none) deliberately, and tested.
    assert set(DOMAIN_SUGGESTIONS) == set(VulnerabilityDomain)


@pytest.mark.parametrize(
    ("cohort", "expected"),
    [
        (Cohort.WOMENS_PATHWAY, (ServiceType.WOMENS_CENTRE, ServiceType.DOMESTIC_ABUSE_SUPPORT)),
        (Cohort.VETERAN, (ServiceType.VETERANS_SUPPORT,)),
        (Cohort.CARE_LEAVER, (ServiceType.HOUSING,)),
    ],
)
def test_each_cohort_suggests_its_services(cohort: Cohort, expected: tuple[ServiceType, ...]) -> None:
    assert suggested_services(state_with(cohorts=(cohort,))) == expected


def test_every_cohort_suggests_something() -> None:
    for cohort in Cohort:
        assert suggested_services(state_with(cohorts=(cohort,)))


def test_screening_domains_keep_their_order_and_share_a_service_once() -> None:
    state = state_with(
        screening=screened(
            VulnerabilityDomain.DEBT,
            VulnerabilityDomain.ALCOHOL,
            VulnerabilityDomain.TRAUMA,
            VulnerabilityDomain.SUBSTANCE_MISUSE,
            VulnerabilityDomain.MENTAL_HEALTH,
        )
    )
    assert suggested_services(state) == (
        ServiceType.DEBT_ADVICE,
        ServiceType.SUBSTANCE_MISUSE,
        ServiceType.MENTAL_HEALTH,
    )


def test_assessment_then_screening_then_cohorts_without_duplicates() -> None:
    state = state_with(
        assessment=assessed(ServiceType.HOUSING, ServiceType.MENTAL_HEALTH, ServiceType.HOUSING),
        screening=screened(
            VulnerabilityDomain.DOMESTIC_ABUSE,
            VulnerabilityDomain.MENTAL_HEALTH,
            VulnerabilityDomain.ALCOHOL,
        ),
        cohorts=(Cohort.CARE_LEAVER, Cohort.WOMENS_PATHWAY, Cohort.VETERAN),
    )
    assert suggested_services(state) == (
        ServiceType.HOUSING,  # assessment (and care leaver)
        ServiceType.MENTAL_HEALTH,  # assessment (and screening)
        ServiceType.DOMESTIC_ABUSE_SUPPORT,  # screening (and women's pathway)
        ServiceType.SUBSTANCE_MISUSE,  # screening: alcohol
        ServiceType.WOMENS_CENTRE,  # women's pathway
        ServiceType.VETERANS_SUPPORT,  # veteran
    )


def test_the_cohorts_order_decides_the_order_of_their_services() -> None:
    first = suggested_services(state_with(cohorts=(Cohort.VETERAN, Cohort.WOMENS_PATHWAY)))
    second = suggested_services(state_with(cohorts=(Cohort.WOMENS_PATHWAY, Cohort.VETERAN)))
    assert first == (ServiceType.VETERANS_SUPPORT, ServiceType.WOMENS_CENTRE, ServiceType.DOMESTIC_ABUSE_SUPPORT)
    assert second == (ServiceType.WOMENS_CENTRE, ServiceType.DOMESTIC_ABUSE_SUPPORT, ServiceType.VETERANS_SUPPORT)


def test_suggestions_do_not_change_the_state() -> None:
    state = state_with(assessment=assessed(ServiceType.HOUSING), cohorts=(Cohort.VETERAN,))
    before = state.model_copy(deep=True)
    suggested_services(state)
    assert state == before


# --- the referral decision task carries them -------------------------------------------------------


def test_the_referral_decision_task_carries_the_suggestions(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(cohorts=(Cohort.WOMENS_PATHWAY, Cohort.VETERAN)))
    case.complete(TaskKind.CONSENT, consent_given())
    # support.screening flags mental health and housing; support.assessment recommends the same.
    events = case.complete(TaskKind.SCREENING, screening(assessment_needed=True))
    assert [e.task.suggested_services for e in events if isinstance(e, TaskOpened)] == [()]
    case.complete(TaskKind.ASSESSMENT, assessment())
    expected = (
        ServiceType.MENTAL_HEALTH,
        ServiceType.HOUSING,
        ServiceType.WOMENS_CENTRE,
        ServiceType.DOMESTIC_ABUSE_SUPPORT,
        ServiceType.VETERANS_SUPPORT,
    )
    assert suggested_services(case.state) == expected

    events = case.complete(TaskKind.SHARE_INFORMATION, share())

    task = referral_task(events)
    assert task.suggested_services == expected
    assert case.state.tasks[task.task_id].suggested_services == expected
    assert case.stage() is Stage.REFERRAL


def test_without_an_assessment_the_screening_and_cohorts_suggest(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(cohorts=(Cohort.CARE_LEAVER,)))
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening_with(VulnerabilityDomain.DEBT, VulnerabilityDomain.HOUSING))
    task = referral_task(case.complete(TaskKind.SHARE_INFORMATION, share()))
    assert task.suggested_services == (ServiceType.DEBT_ADVICE, ServiceType.HOUSING)


def test_a_person_with_no_flagged_needs_gets_no_suggestions(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening_with(VulnerabilityDomain.TRAUMA))
    task = referral_task(case.complete(TaskKind.SHARE_INFORMATION, share()))
    assert task.suggested_services == ()


def test_suggestions_are_advice_not_a_limit(site: SiteConfig) -> None:
    # A referral to a service nobody suggested is still made.
    case = Case(site)
    case.send(open_case(cohorts=(Cohort.VETERAN,)))
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening_with(VulnerabilityDomain.MENTAL_HEALTH))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    assert ServiceType.GP_REGISTRATION not in case.task(TaskKind.REFERRAL_DECISION).suggested_services
    case.complete(
        TaskKind.REFERRAL_DECISION,
        {"referrals": [{"service": "gp_registration", "reason": "no GP since moving"}]},
    )
    assert [r.request.service for r in case.state.referrals] == [ServiceType.GP_REGISTRATION]


# --- a child's consent -----------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [Setting.CUSTODY, Setting.YOUTH_COURT])
def test_a_childs_consent_without_guardian_involvement_is_refused(site: SiteConfig, setting: Setting) -> None:
    case = Case(site)
    case.send(open_case(setting=setting, age_band=AgeBand.CHILD))
    task = case.task(TaskKind.CONSENT)
    violation = refused(
        case,
        CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=consent_given()),
        "guardian_involvement_required",
    )
    assert "parent or guardian" in violation.message
    assert case.state.consent == "not_asked"
    assert case.stage() is Stage.SCREENING


def test_a_childs_declined_consent_also_needs_guardian_involvement(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(age_band=AgeBand.CHILD))
    task = case.task(TaskKind.CONSENT)
    refused(
        case,
        CompleteTask(actor=TEAM_LEAD, task_id=task.task_id, outcome=consent_declined()),
        "guardian_involvement_required",
    )


@pytest.mark.parametrize("guardian", [True, False])
def test_a_childs_consent_records_guardian_involvement(site: SiteConfig, guardian: bool) -> None:
    case = Case(site)
    case.send(open_case(setting=Setting.YOUTH_COURT, age_band=AgeBand.CHILD))
    events = case.complete(TaskKind.CONSENT, consent_given(ConsentScope.ASSESSMENT, guardian=guardian))
    assert types(events) == ["ConsentRecorded", "TaskCompleted", "TaskOpened"]
    assert consent_of(events) == ConsentRecorded(
        decision="given", scope=(ConsentScope.ASSESSMENT,), parent_or_guardian_involved=guardian
    )
    [stored] = [env.event for env in case.envelopes if isinstance(env.event, ConsentRecorded)]
    assert stored.parent_or_guardian_involved is guardian
    assert stored.model_dump(mode="json")["parent_or_guardian_involved"] is guardian
    assert case.state.consent == "given"
    assert case.task(TaskKind.SCREENING)


def test_a_child_can_go_on_to_the_child_assessment(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(setting=Setting.YOUTH_COURT, age_band=AgeBand.CHILD))
    case.complete(TaskKind.CONSENT, consent_given(guardian=True))
    case.complete(TaskKind.SCREENING, screening(assessment_needed=True))
    events = case.complete(TaskKind.ASSESSMENT, assessment(CHILD_ASSESSMENT))
    assert types(events)[0] == "AssessmentRecorded"


def test_a_childs_declined_consent_with_guardian_involvement_closes_the_case(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(age_band=AgeBand.CHILD))
    outcome = consent_declined() | {"parent_or_guardian_involved": True}
    events = case.complete(TaskKind.CONSENT, outcome)
    assert consent_of(events) == ConsentRecorded(decision="declined", parent_or_guardian_involved=True)
    assert case.stage() is Stage.CLOSED


@pytest.mark.parametrize("guardian", [None, True, False])
def test_an_adults_consent_needs_no_guardian_and_records_what_was_given(
    site: SiteConfig, guardian: bool | None
) -> None:
    case = Case(site)
    case.send(open_case(age_band=AgeBand.ADULT))
    events = case.complete(TaskKind.CONSENT, consent_given(ConsentScope.ASSESSMENT, guardian=guardian))
    assert consent_of(events).parent_or_guardian_involved is guardian


def test_a_non_boolean_guardian_involvement_is_an_invalid_outcome(site: SiteConfig) -> None:
    case = Case(site)
    case.send(open_case(age_band=AgeBand.CHILD))
    task = case.task(TaskKind.CONSENT)
    outcome: dict[str, JsonValue] = {"decision": "given", "scope": ["assessment"], "parent_or_guardian_involved": "mum"}
    violation = refused(
        case, CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=outcome), "outcome_invalid"
    )
    assert "parent_or_guardian_involved" in violation.message
