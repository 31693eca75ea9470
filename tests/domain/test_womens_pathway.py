"""The women's pathway is offered, not typed (issue 17): a person who states her sex as female is
offered it at screening and her answer is recorded with who recorded it; a practitioner can still
put someone on a cohort or take them off it, with a reason. Refusals by rule id, the case unchanged."""

import pytest
from pydantic import JsonValue, ValidationError

from domain.commands import ChangeCohort, CompleteTask
from domain.errors import Rule
from domain.events import CohortChanged, WomensPathwayDecided
from domain.model import Cohort, Sex
from domain.outcomes import ServiceType
from domain.tasks import TaskKind
from tests.domain.support import (
    LINK_WORKER,
    OTHER_PRACTITIONER,
    PRACTITIONER,
    Case,
    consent_given,
    make_site,
    open_case,
    refused,
    screening,
)


def screened_case(sex: Sex | None, cohorts: tuple[Cohort, ...] = ()) -> Case:
    case = Case(make_site())
    case.send(open_case(cohorts=cohorts).model_copy(update={"sex": sex}))
    case.complete(TaskKind.CONSENT, consent_given())
    return case


def screening_with(decision: str | None) -> dict[str, JsonValue]:
    outcome = screening(assessment_needed=False)
    return outcome | ({"womens_pathway": decision} if decision else {})


def test_screening_a_woman_without_offering_the_pathway_is_refused() -> None:
    case = screened_case(Sex.FEMALE)
    task = case.task(TaskKind.SCREENING)
    command = CompleteTask(actor=PRACTITIONER, task_id=task.task_id, outcome=screening_with(None))
    refusal = refused(case, command, Rule.WOMENS_PATHWAY_NOT_OFFERED)
    assert "offer her the women's pathway" in refusal.message


def test_her_acceptance_puts_her_on_the_pathway_recorded_with_who_recorded_it() -> None:
    case = screened_case(Sex.FEMALE)
    events = case.complete(TaskKind.SCREENING, screening_with("accepted"), actor=OTHER_PRACTITIONER)
    assert WomensPathwayDecided(decision="accepted") in events
    [decided] = [e for e in case.envelopes if isinstance(e.event, WomensPathwayDecided)]
    assert decided.actor == OTHER_PRACTITIONER
    assert case.state.cohorts == (Cohort.WOMENS_PATHWAY,)
    case.complete(TaskKind.SHARE_INFORMATION, {"reason_if_none": "nothing to share"})
    suggested = case.task(TaskKind.REFERRAL_DECISION).suggested_services
    assert ServiceType.WOMENS_CENTRE in suggested


def test_her_refusal_is_recorded_and_leaves_her_off_it() -> None:
    case = screened_case(Sex.FEMALE)
    events = case.complete(TaskKind.SCREENING, screening_with("declined"))
    assert WomensPathwayDecided(decision="declined") in events
    assert Cohort.WOMENS_PATHWAY not in case.state.cohorts


@pytest.mark.parametrize(("sex", "cohorts"), [(Sex.MALE, ()), (None, ()), (Sex.FEMALE, (Cohort.WOMENS_PATHWAY,))])
def test_no_offer_is_needed_where_it_does_not_apply_or_was_made(sex: Sex | None, cohorts: tuple[Cohort, ...]) -> None:
    case = screened_case(sex, cohorts)
    events = case.complete(TaskKind.SCREENING, screening_with(None))
    assert not any(isinstance(e, WomensPathwayDecided) for e in events)
    assert case.state.cohorts == cohorts


def test_a_practitioner_sets_and_removes_a_cohort_with_a_reason() -> None:
    case = screened_case(None)
    added = case.send(ChangeCohort(actor=PRACTITIONER, cohort=Cohort.VETERAN, member=True, reason="served 2004-2012"))
    assert added == [CohortChanged(cohort=Cohort.VETERAN, member=True, reason="served 2004-2012")]
    assert case.state.cohorts == (Cohort.VETERAN,)
    again = ChangeCohort(actor=PRACTITIONER, cohort=Cohort.VETERAN, member=True, reason="twice")
    refused(case, again, Rule.COHORT_UNCHANGED)
    removed = ChangeCohort(actor=PRACTITIONER, cohort=Cohort.VETERAN, member=False, reason="entered in error")
    case.send(removed)
    assert Cohort.VETERAN not in case.state.cohorts
    link_worker = ChangeCohort(actor=LINK_WORKER, cohort=Cohort.CARE_LEAVER, member=True, reason="care leaver")
    refused(case, link_worker, Rule.ROLE_NOT_ALLOWED)


def test_a_cohort_change_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        ChangeCohort(actor=PRACTITIONER, cohort=Cohort.VETERAN, member=True, reason="  ")
