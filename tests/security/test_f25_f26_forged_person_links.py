"""F25 and F26 of issue 19: making the record say a person is someone else.

- F25: open a case claiming it is of a person seen before (a victim's `person-...`), so their episodes
  show as this one's "seen before": send `same_person_as` or `possible_people` with the opening, through
  the API or straight to the service.
- F26: confirm a person-match task as a person it did not suggest (another site's person, or anyone).

The API refuses the fields (422: the start body takes only what a person may say); the service sets
them itself from the person index whatever a caller sent; a match task confirms only its candidates.
Nothing is recorded for a refusal."""

import uuid

import httpx
import pytest

from domain.errors import RuleViolation
from domain.events import PersonLinked
from domain.model import Person, Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, PRACTITIONER, open_case, open_task

PRACTITIONER_TOKEN = token("pr-001", Role.PRACTITIONER)


def reference() -> str:
    return f"CUST/{uuid.uuid4().hex[:8]}"


async def test_f25_an_opening_cannot_name_its_person(cases: StaffCommands, api: httpx.AsyncClient) -> None:
    victim = await cases.start_case(open_case(reference()).model_copy(update={"person": Person(name="Kit Marlowe")}))
    assert victim.person_id is not None
    body = {"site": "demo", "setting": "custody", "source": "custody_staff", "age_band": "adult"}
    for forged in ({"same_person_as": victim.person_id}, {"possible_people": [victim.person_id]}):
        answer = await api.post(
            "/api/cases", json={**body, "external_ref": reference(), **forged}, headers=PRACTITIONER_TOKEN
        )
        assert answer.status_code == 422, answer.text
    assert [c.case_id for c in await cases.store.list_cases(site="demo")] == [victim.case_id]

    forged_opening = open_case(reference()).model_copy(
        update={"same_person_as": victim.person_id, "possible_people": (victim.person_id,)}
    )
    state = await cases.start_case(forged_opening)
    assert state.person_id == state.own_person_id != victim.person_id
    assert not [t for t in state.open_tasks if t.kind is TaskKind.PERSON_MATCH]
    assert not [e for e in await cases.store.read_stream(state.case_id) if isinstance(e.event, PersonLinked)]


async def test_f26_a_match_task_confirms_only_the_people_it_suggested(cases: StaffCommands) -> None:
    who = Person(name="Jude Fairweather", date_of_birth="1991-05-06")
    elsewhere = Person(name="Ash Penhaligon", date_of_birth="1960-01-01", nhs_number="9434765919")
    seen = await cases.start_case(open_case(reference()).model_copy(update={"person": who}))
    other = await cases.start_case(open_case(reference(), site="north").model_copy(update={"person": elsewhere}))
    state = await cases.start_case(open_case(reference()).model_copy(update={"person": who}))
    task_id = open_task(state, TaskKind.PERSON_MATCH)
    assert state.tasks[task_id].candidates == (seen.person_id,)
    events = len(await cases.store.read_stream(state.case_id))

    for stranger in (other.person_id, "person-00000000-0000-4000-8000-000000000000", state.person_id):
        with pytest.raises(RuleViolation) as refused:
            await cases.complete_task(task_id, {"same_person_as": stranger}, PRACTITIONER)
        assert refused.value.rule in ("not_a_candidate", "outcome_invalid"), refused.value
    assert len(await cases.store.read_stream(state.case_id)) == events
    assert (await cases.store.case_state(state.case_id)).person_id == state.person_id
    assert other.site == "north" and BOTH_SITES_PRACTITIONER.staff_id == "pr-002"
