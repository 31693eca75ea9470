"""Which forms a case page offers, by role and by what the case is (api/case_forms.py), and what the
forms for what a case learns ask: a case's own state, folded in the domain, no server needed."""

from datetime import date

import pytest

from api.case_forms import NOT_ASKED, case_forms
from api.forms import FormInvalid, Question, outcome_from_form
from domain.commands import ChangeCohort, CloseCase, RecordReleaseDate
from domain.model import Role
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.state import CaseState
from tests.domain.support import PRACTITIONER, TEAM_LEAD, Case, open_case
from tests.domain.test_reconnect import opening, site

LEARNT = ["justice-outcome", "cohort"]


def ld_case() -> CaseState:
    case = Case(site())
    case.send(open_case())
    return case.state


def reconnect_episode() -> CaseState:
    case = Case(site())
    case.send(opening())
    return case.state


def slugs(state: CaseState, role: Role) -> list[str]:
    return [form.slug for form in case_forms(state, role)]


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.TEAM_LEAD])
def test_practitioners_and_team_leads_record_what_an_open_case_learns(role: Role) -> None:
    offered = slugs(ld_case(), role)
    assert all(slug in offered for slug in LEARNT), offered
    assert "release-date" not in offered  # an L&D case has no release date to record: RECONNECT does
    assert "release-date" in slugs(reconnect_episode(), role)


def test_a_link_worker_records_a_release_date_but_not_outcomes_or_cohorts() -> None:
    offered = slugs(ld_case(), Role.LINK_WORKER)
    assert "justice-outcome" not in offered and "cohort" not in offered
    assert "release-date" in slugs(reconnect_episode(), Role.LINK_WORKER)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.OPERATOR, Role.ADMIN])
def test_those_who_do_no_case_work_are_offered_none(role: Role) -> None:
    assert not set(slugs(reconnect_episode(), role)) & {*LEARNT, "release-date"}


def test_a_closed_case_learns_nothing_more_from_its_page() -> None:
    case = Case(site())
    case.send(open_case())
    case.send(CloseCase(actor=TEAM_LEAD, outcome=ClosureOutcome(reason=ClosureReason.TRANSFERRED)))
    assert not set(slugs(case.state, Role.PRACTITIONER)) & {*LEARNT, "release-date"}


def questions(state: CaseState, slug: str) -> dict[str, Question]:
    [form] = [form for form in case_forms(state, Role.PRACTITIONER) if form.slug == slug]
    return {item.name: item for item in form.items if isinstance(item, Question)}


def test_the_release_date_is_asked_as_a_date_and_on_or_off_as_a_choice() -> None:
    released = questions(reconnect_episode(), "release-date")
    assert list(released) == ["release_on"] and released["release_on"].widget == "date"
    cohort = questions(ld_case(), "cohort")
    assert [value for value, _ in cohort["member"].options] == ["true", "false"]


def test_the_forms_posted_make_their_commands() -> None:
    acting = {"actor": PRACTITIONER}
    release = outcome_from_form(RecordReleaseDate, {"release_on": ["2027-03-01"]}, acting)
    assert RecordReleaseDate.model_validate(release).release_on == date(2027, 3, 1)
    with pytest.raises(FormInvalid) as refused:
        outcome_from_form(RecordReleaseDate, {"release_on": ["next spring"]}, acting)
    assert refused.value.problems.fields == {"release_on": "Enter release on as a date"}
    moved = outcome_from_form(ChangeCohort, {"cohort": ["veteran"], "member": ["true"], "reason": ["served"]}, acting)
    assert ChangeCohort.model_validate(moved).member is True


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.LINK_WORKER, Role.TEAM_LEAD])
def test_no_form_asks_who_acts_or_the_version_the_page_showed(role: Role) -> None:
    """Both are the page's: the signed-in person acts, and the case moves on by itself between a page's
    load and its post (a version asked for would be a box nobody can fill in rightly)."""
    for state in (ld_case(), reconnect_episode()):
        for form in case_forms(state, role):
            assert not form.question_names & NOT_ASKED, (form.slug, form.question_names)
