"""Episodes of the same person (issue 19): an NHS number links at opening, a name and date of birth
only open a task for a practitioner, who confirms one of its people or none; a link can be undone;
a practitioner links by their own knowledge. Refusals by rule id, the case unchanged."""

from domain.commands import CloseCase, CompleteTask, LinkPerson, RecordDateOfBirth, UnlinkPerson, WithdrawConsent
from domain.errors import Rule
from domain.events import PersonLinked, PersonUnlinked, PossibleMatchRejected
from domain.model import AgeBand, Stage
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.tasks import TaskKind
from tests.domain.support import AUDITOR, LINK_WORKER, PRACTITIONER, TEAM_LEAD, Case, make_site, open_case, refused

OWN = "person-00000000-0000-4000-8000-000000000001"
SEEN = "person-00000000-0000-4000-8000-000000000002"
ALSO = "person-00000000-0000-4000-8000-000000000003"


def opened(same_person_as: str | None = None, possible: tuple[str, ...] = ()) -> Case:
    case = Case(make_site())
    command = open_case().model_copy(
        update={"person_id": OWN, "same_person_as": same_person_as, "possible_people": possible}
    )
    case.send(command)
    return case


def test_an_episode_opens_as_its_own_person() -> None:
    case = opened()
    assert (case.state.person_id, case.state.own_person_id) == (OWN, OWN)
    assert TaskKind.PERSON_MATCH not in [t.kind for t in case.state.open_tasks]


def test_an_nhs_number_match_links_at_opening_with_its_basis() -> None:
    case = opened(same_person_as=SEEN)
    linked = [e.event for e in case.envelopes if isinstance(e.event, PersonLinked)]
    assert linked == [PersonLinked(person_id=SEEN, basis="nhs_number", previous=OWN)]
    assert (case.state.person_id, case.state.own_person_id) == (SEEN, OWN)


def test_a_weak_match_links_nothing_and_opens_a_task_with_the_candidates() -> None:
    case = opened(possible=(SEEN, ALSO, OWN))
    assert case.state.person_id == OWN
    task = case.task(TaskKind.PERSON_MATCH)
    assert task.candidates == (SEEN, ALSO)  # never itself
    assert not [e for e in case.envelopes if isinstance(e.event, PersonLinked)]


def test_confirming_a_candidate_links_and_rejecting_records_the_rejection() -> None:
    confirmed = opened(possible=(SEEN, ALSO))
    confirmed.complete(TaskKind.PERSON_MATCH, {"same_person_as": ALSO, "note": "same tattoo"})
    assert confirmed.state.person_id == ALSO
    [linked] = [e.event for e in confirmed.envelopes if isinstance(e.event, PersonLinked)]
    assert (linked.basis, linked.previous) == ("confirmed_match", OWN)

    rejected = opened(possible=(SEEN,))
    rejected.complete(TaskKind.PERSON_MATCH, {"same_person_as": None})
    assert rejected.state.person_id == OWN
    assert PossibleMatchRejected(candidates=(SEEN,)) in [e.event for e in rejected.envelopes]


def test_a_match_task_confirms_only_its_candidates_and_only_practitioners_work_it() -> None:
    case = opened(possible=(SEEN,))
    task_id = case.task(TaskKind.PERSON_MATCH).task_id
    stranger = {"same_person_as": ALSO}
    refused(case, CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=stranger), Rule.NOT_A_CANDIDATE)
    same = {"same_person_as": SEEN}
    refused(case, CompleteTask(actor=LINK_WORKER, task_id=task_id, outcome=same), Rule.ROLE_NOT_ALLOWED)


def test_a_link_is_undone_and_the_episode_is_its_own_person_again() -> None:
    case = opened(same_person_as=SEEN)
    case.send(UnlinkPerson(actor=TEAM_LEAD, reason="a different man of the same name"))
    assert case.state.person_id == OWN
    assert isinstance(case.envelopes[-1].event, PersonUnlinked) and case.envelopes[-1].event.person_id == SEEN
    refused(case, UnlinkPerson(actor=PRACTITIONER, reason="again"), Rule.NOT_LINKED)


def test_a_practitioner_links_by_their_own_knowledge_but_not_twice_nor_as_an_auditor() -> None:
    case = opened()
    case.send(LinkPerson(actor=PRACTITIONER, person_id=SEEN, basis="known to the team from March"))
    assert case.state.person_id == SEEN
    [linked] = [e.event for e in case.envelopes if isinstance(e.event, PersonLinked)]
    assert (linked.basis, linked.previous) == ("practitioner", OWN)
    refused(case, LinkPerson(actor=PRACTITIONER, person_id=SEEN, basis="again"), Rule.ALREADY_THAT_PERSON)
    refused(case, LinkPerson(actor=AUDITOR, person_id=ALSO, basis="looks alike"), Rule.ROLE_NOT_ALLOWED)
    refused(case, UnlinkPerson(actor=LINK_WORKER, reason="not him"), Rule.ROLE_NOT_ALLOWED)


def test_a_closed_episodes_person_is_corrected_but_nothing_else_changes() -> None:
    case = opened(same_person_as=SEEN)
    case.send(CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.RECORD_MADE_IN_ERROR)))
    case.send(UnlinkPerson(actor=PRACTITIONER, reason="not him"))
    assert case.state.person_id == OWN and case.state.stage is Stage.CLOSED
    case.send(LinkPerson(actor=TEAM_LEAD, person_id=ALSO, basis="his sister confirmed it"))
    assert case.state.person_id == ALSO
    refused(case, LinkPerson(actor=AUDITOR, person_id=SEEN, basis="looks alike"), Rule.ROLE_NOT_ALLOWED)
    refused(case, WithdrawConsent(actor=PRACTITIONER, reason="changed his mind"), Rule.CASE_NOT_OPEN)


def born(day: str, *possible: str) -> RecordDateOfBirth:
    return RecordDateOfBirth(actor=PRACTITIONER, date_of_birth=day, age_band=AgeBand.ADULT, possible_people=possible)


def test_a_date_of_birth_learnt_later_opens_the_match_task_once_and_never_links() -> None:
    case = opened()
    case.send(born("1990-01-01", SEEN, OWN))
    assert case.task(TaskKind.PERSON_MATCH).candidates == (SEEN,) and case.state.person_id == OWN
    case.send(born("1990-01-02", ALSO))
    assert len([t for t in case.state.open_tasks if t.kind is TaskKind.PERSON_MATCH]) == 1  # one is open already

    linked = opened(same_person_as=SEEN)
    linked.send(born("1990-01-01", ALSO))
    assert TaskKind.PERSON_MATCH not in [t.kind for t in linked.state.open_tasks]  # linked already
