"""People across episodes on the real stack (issue 19): the same NHS number at two sites links at
once and shows across scope only as "another service"; a name and date of birth open a task, whose
confirmation links and whose rejection does not; shredding a person forgets them, so a new episode
with the same NHS number is a new person with no link and no trace; shredding one episode of several
leaves the others linked and readable."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.retention import FindExpiredInput, RetentionActivities
from domain.commands import CloseCase, LinkPerson, OpenCase, UnlinkPerson
from domain.errors import RuleViolation
from domain.events import PersonLinked, PersonUnlinked
from domain.model import Actor, Person, Role
from domain.outcomes import ClosureOutcome
from domain.state import CaseState
from domain.tasks import TaskKind
from service.person_matching import PersonMatcher
from service.staff import StaffCommands
from store import schema
from store.keyring import KeyRing
from store.person_index import PersonIndex
from tests.conftest import TEST_INDEX_KEYS
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, PRACTITIONER, open_case, open_task

ADMIN = Actor(staff_id="ad-001", role=Role.ADMIN)
LINK_WORKER = Actor(staff_id="lw-001", role=Role.LINK_WORKER)
NHS_NUMBER = "943 476 5919"  # as people write it: spaces are not part of the number


def person(name: str = "Seán O'Brien", born: str | None = "1984-07-09", nhs_number: str | None = NHS_NUMBER) -> Person:
    return Person(name=name, date_of_birth=born, nhs_number=nhs_number.replace(" ", "") if nhs_number else None)


async def episode(cases: StaffCommands, who: Person, site: str = "demo") -> CaseState:
    command: OpenCase = open_case(f"CUST/{uuid.uuid4().hex[:8]}", site=site).model_copy(update={"person": who})
    return await cases.start_case(command)


async def closed(cases: StaffCommands, state: CaseState) -> None:
    outcome = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    actor = PRACTITIONER if state.site == "demo" else BOTH_SITES_PRACTITIONER
    await cases.close_case(state.case_id, CloseCase(actor=actor, outcome=outcome))


async def linked_events(cases: StaffCommands, case_id: str) -> list[PersonLinked]:
    return [e.event for e in await cases.store.read_stream(case_id) if isinstance(e.event, PersonLinked)]


async def test_the_same_nhs_number_at_two_sites_links_and_shows_as_another_service(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    again = await episode(cases, person(name="Sean OBrien"), site="north")  # another site, written otherwise
    assert first.person_id is not None and again.person_id == first.person_id
    [linked] = await linked_events(cases, again.case_id)
    assert (linked.basis, linked.person_id) == ("nhs_number", first.person_id)
    assert TaskKind.PERSON_MATCH not in [t.kind for t in again.open_tasks]

    both = await cases.pathway.people.show(cases.principal(BOTH_SITES_PRACTITIONER), first.person_id)
    assert [e.case_id for e in both.episodes] == [first.case_id, again.case_id]
    assert all(e.in_scope and e.site for e in both.episodes)
    demo_only = await cases.pathway.people.show(cases.principal(PRACTITIONER), first.case_id)
    elsewhere = [e for e in demo_only.episodes if e.case_id == again.case_id]
    assert [(e.in_scope, e.site, e.stage, e.needs, e.referrals) for e in elsewhere] == [(False, None, None, (), ())]
    assert elsewhere[0].setting == "custody"


async def test_a_name_and_date_of_birth_open_a_task_a_confirmation_links_a_rejection_does_not(
    cases: StaffCommands,
) -> None:
    first = await episode(cases, person(nhs_number=None))
    assert first.person_id is not None
    confirmed = await episode(cases, person(name="Sean O'Brien", nhs_number=None))
    task = confirmed.tasks[open_task(confirmed, TaskKind.PERSON_MATCH)]
    assert task.candidates == (first.person_id,) and confirmed.person_id != first.person_id

    candidates = await cases.pathway.people.candidates(cases.principal(PRACTITIONER), task.task_id)
    assert [(c.person_id, c.initials, c.date_of_birth) for c in candidates] == [(first.person_id, "SO", "1984-07-09")]
    outcome = {"same_person_as": first.person_id, "note": "same custody photograph"}
    after = await cases.complete_task(task.task_id, outcome, PRACTITIONER)
    assert after.person_id == first.person_id
    view = await cases.pathway.people.show(cases.principal(PRACTITIONER), first.person_id)
    assert {e.case_id for e in view.episodes} == {first.case_id, confirmed.case_id}

    rejected = await episode(cases, person(name="Sean O'Brian", nhs_number=None))  # said alike: a candidate
    task_id = open_task(rejected, TaskKind.PERSON_MATCH)
    after = await cases.complete_task(task_id, {"same_person_as": None}, PRACTITIONER)
    assert after.person_id == rejected.person_id != first.person_id
    assert not await linked_events(cases, rejected.case_id)


async def test_a_shredded_person_is_forgotten_and_a_new_episode_is_a_new_person(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    second = await episode(cases, person())
    assert first.person_id is not None and second.person_id == first.person_id
    for state in (first, second):
        await closed(cases, state)

    done = await cases.pathway.people.shred(cases.principal(ADMIN), first.person_id, "record made in error")
    assert {done.case_id, *done.other_cases} == {first.case_id, second.case_id}
    async with cases.store.engine.connect() as conn:
        left = (await conn.execute(select(schema.person_index.c.case_id))).scalars().all()
    assert first.case_id not in left and second.case_id not in left

    later = await episode(cases, person())
    assert later.person_id not in (None, first.person_id)
    assert not await linked_events(cases, later.case_id)
    assert TaskKind.PERSON_MATCH not in [t.kind for t in later.open_tasks]


async def test_shredding_one_episode_of_several_leaves_the_others_linked(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    second = await episode(cases, person())
    third = await episode(cases, person())
    assert first.person_id is not None
    await closed(cases, second)
    done = await cases.pathway.people.shred(cases.principal(ADMIN), second.case_id, "record made in error")
    assert (done.case_id, done.other_cases) == (second.case_id, ())

    view = await cases.pathway.people.show(cases.principal(PRACTITIONER), first.person_id)
    assert [e.case_id for e in view.episodes] == [first.case_id, second.case_id, third.case_id]
    assert (await cases.store.case_state(third.case_id)).personal_data_shredded_at is None
    readable = await cases.opened(await cases.store.case_state(third.case_id), third.case_id)
    assert readable.person.nhs_number == NHS_NUMBER.replace(" ", "")
    fourth = await episode(cases, person())  # still found through the episodes left
    assert fourth.person_id == first.person_id


async def test_a_person_cannot_be_shredded_while_an_episode_is_open(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    second = await episode(cases, person())
    await closed(cases, first)
    assert first.person_id is not None
    with pytest.raises(RuleViolation) as refused:
        await cases.pathway.people.shred(cases.principal(ADMIN), first.person_id, "record made in error")
    assert refused.value.rule == "case_not_closed" and second.case_id in refused.value.message
    assert (await cases.store.case_state(first.case_id)).personal_data_shredded_at is None


async def test_a_date_of_birth_learnt_later_lets_the_next_episode_find_the_person(cases: StaffCommands) -> None:
    first = await episode(cases, person(born=None, nhs_number=None))
    await cases.pathway.cases.record_date_of_birth(cases.principal(PRACTITIONER), first.case_id, "1984-07-09")
    later = await episode(cases, person(nhs_number=None))
    assert later.tasks[open_task(later, TaskKind.PERSON_MATCH)].candidates == (first.person_id,)


async def test_a_date_of_birth_learnt_later_asks_whether_the_person_was_seen_before(cases: StaffCommands) -> None:
    seen = await episode(cases, person(nhs_number=None))
    later = await episode(cases, person(born=None, nhs_number=None))
    assert TaskKind.PERSON_MATCH not in [t.kind for t in later.open_tasks]  # a name alone suggests nobody
    practitioner = cases.principal(PRACTITIONER)
    after = await cases.pathway.cases.record_date_of_birth(practitioner, later.case_id, "1984-07-09")
    assert after.tasks[open_task(after, TaskKind.PERSON_MATCH)].candidates == (seen.person_id,)
    assert after.person_id == later.person_id  # asked, not linked


async def test_a_new_index_key_reindexes_every_episode_and_the_old_key_can_go(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    gone = await episode(cases, person(name="Ann Other", nhs_number="9434765870"))
    await closed(cases, gone)
    await cases.pathway.people.shred(cases.principal(ADMIN), gone.case_id, "record made in error")
    index = PersonIndex(cases.store.engine)
    new_key = ("index-2", bytes(range(128, 160)))
    cases.pathway.cases.matcher = PersonMatcher(index, KeyRing((*TEST_INDEX_KEYS.keys, new_key)))

    assert await cases.pathway.people.reindex(cases.principal(ADMIN)) == 1
    assert await index.key_ids() == {"index-2": 3}
    with pytest.raises(RuleViolation):  # admins only
        await cases.pathway.people.reindex(cases.principal(PRACTITIONER))

    cases.pathway.cases.matcher = PersonMatcher(index, KeyRing((new_key,)))  # the old key removed
    later = await episode(cases, person())
    assert later.person_id == first.person_id


async def test_retention_keeps_an_episode_while_the_persons_later_one_is_kept(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    second = await episode(cases, person())
    await closed(cases, first)
    retention = RetentionActivities(cases.store, cases.sealer.keys, cases.config.retention)
    far_on = FindExpiredInput(as_of=datetime.now(UTC) + timedelta(days=365 * 30), limit=100)

    page = await ActivityEnvironment().run(retention.find_expired_records, far_on)
    assert page.examined == 1 and page.expired == [] and page.for_review == []  # the person is still seen

    await closed(cases, second)
    page = await ActivityEnvironment().run(retention.find_expired_records, far_on)
    assert {record.case_id for record in page.expired} == {first.case_id, second.case_id}


async def test_a_closed_episodes_link_is_corrected_after_it_closed(cases: StaffCommands) -> None:
    first = await episode(cases, person())
    second = await episode(cases, person())
    assert first.person_id is not None and second.person_id == first.person_id
    await closed(cases, second)
    practitioner = cases.principal(PRACTITIONER)

    unlinking = UnlinkPerson(actor=PRACTITIONER, reason="a different man with a mistyped NHS number")
    after = await cases.pathway.people.unlink(practitioner, second.case_id, unlinking)
    assert after.stage == "closed" and after.person_id == second.own_person_id != first.person_id
    assert isinstance((await cases.store.read_stream(second.case_id))[-1].event, PersonUnlinked)
    assert [e.action for e in await cases.access_log(second.case_id)][-1] == "unlink_person"
    view = await cases.pathway.people.show(practitioner, first.person_id)
    assert [e.case_id for e in view.episodes] == [first.case_id]

    relinking = LinkPerson(actor=PRACTITIONER, person_id=first.person_id, basis="the NHS number was right after all")
    after = await cases.pathway.people.link(practitioner, second.case_id, relinking)
    assert after.person_id == first.person_id
    with pytest.raises(RuleViolation) as refused:  # the rules are the workflow's
        await cases.pathway.people.link(practitioner, second.case_id, relinking)
    assert refused.value.rule == "already_that_person"
    events = len(await cases.store.read_stream(second.case_id))
    with pytest.raises(RuleViolation):
        await cases.pathway.people.unlink(cases.principal(LINK_WORKER), second.case_id, unlinking)
    assert len(await cases.store.read_stream(second.case_id)) == events


async def test_a_name_and_date_of_birth_with_another_nhs_number_is_someone_else(cases: StaffCommands) -> None:
    first = await episode(cases, person())  # with NHS_NUMBER
    other = await episode(cases, person(nhs_number="9434765870"))  # the same name and birthday
    assert other.person_id != first.person_id
    assert TaskKind.PERSON_MATCH not in [t.kind for t in other.open_tasks]
    unknown = await episode(cases, person(nhs_number=None))  # no number: either may be them
    task = unknown.tasks[open_task(unknown, TaskKind.PERSON_MATCH)]
    assert set(task.candidates) == {first.person_id, other.person_id}
