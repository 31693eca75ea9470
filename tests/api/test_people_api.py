"""People across episodes through the API, on the real stack: the same NHS number links episodes and
`GET /api/people/...` lists them; a name and date of birth open a possible-previous-contact task whose
candidates name the earlier person, and confirming links while rejecting does not; a practitioner's
link and unlink; refusals are 4xx problems that record nothing."""

import uuid

import httpx

from domain.model import Person, Role
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import open_case, open_task

PRACTITIONER_TOKEN = token("pr-001", Role.PRACTITIONER)
AUDITOR = token("au-001", Role.AUDITOR)
NHS_NUMBER = "9434765919"
NOBODY = "person-00000000-0000-4000-8000-000000000000"


async def opened_for(cases: StaffCommands, person: Person) -> CaseState:
    return await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}").model_copy(update={"person": person}))


async def events(cases: StaffCommands, case_id: str) -> int:
    return len(await cases.store.read_stream(case_id))


async def test_the_same_nhs_number_links_and_the_person_lists_both_episodes(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first = await opened_for(cases, Person(name="Jo Bloggs", date_of_birth="1990-04-01", nhs_number=NHS_NUMBER))
    # Another name: the NHS number alone is enough to link.
    second = await opened_for(cases, Person(name="Joanne Bloggs", nhs_number=NHS_NUMBER))
    assert second.person_id == first.person_id != second.own_person_id

    for reference in (second.case_id, first.person_id):
        answer = await api.get(f"/api/people/{reference}", headers=PRACTITIONER_TOKEN)
        assert answer.status_code == 200, answer.text
        view = answer.json()
        assert view["person_id"] == first.person_id
        assert [e["case_id"] for e in view["episodes"]] == [first.case_id, second.case_id]
        assert all(e["in_scope"] and e["site"] == "demo" and e["open"] for e in view["episodes"])


async def test_a_name_and_date_of_birth_match_is_a_task_confirmed_or_rejected(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    sam = Person(name="Sam Carter", date_of_birth="1988-02-03")
    earlier = await opened_for(cases, sam)
    confirmed, rejected = await opened_for(cases, sam), await opened_for(cases, sam)
    assert earlier.person_id is not None and confirmed.person_id == confirmed.own_person_id  # not linked yet

    task_id = open_task(confirmed, TaskKind.PERSON_MATCH)
    listed = await api.get("/api/tasks", params={"view": "team"}, headers=PRACTITIONER_TOKEN)
    assert task_id in {t["task_id"] for t in listed.json() if t["kind"] == "person_match"}
    answer = await api.get(f"/api/tasks/{task_id}/candidates", headers=PRACTITIONER_TOKEN)
    assert answer.status_code == 200, answer.text
    [candidate] = [c for c in answer.json() if c["person_id"] == earlier.person_id]
    assert candidate["initials"] == "SC" and candidate["date_of_birth"] == "1988-02-03"
    assert earlier.case_id in [e["case_id"] for e in candidate["episodes"]]

    done = await api.post(
        f"/api/tasks/{task_id}/complete",
        json={"outcome": {"same_person_as": earlier.person_id}},
        headers=PRACTITIONER_TOKEN,
    )
    assert done.status_code == 200, done.text
    assert done.json()["person_id"] == earlier.person_id

    no = await api.post(
        f"/api/tasks/{open_task(rejected, TaskKind.PERSON_MATCH)}/complete",
        json={"outcome": {"same_person_as": None}},
        headers=PRACTITIONER_TOKEN,
    )
    assert no.status_code == 200, no.text
    assert no.json()["person_id"] == rejected.own_person_id
    view = (await api.get(f"/api/people/{earlier.person_id}", headers=PRACTITIONER_TOKEN)).json()
    assert [e["case_id"] for e in view["episodes"]] == [earlier.case_id, confirmed.case_id]


async def test_a_practitioner_links_and_unlinks_an_episode(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    earlier = await opened_for(cases, Person(name="Lee Ng"))
    later = await opened_for(cases, Person(name="Lee Nguyen"))
    assert earlier.person_id is not None and later.person_id == later.own_person_id

    linked = await api.post(
        f"/api/cases/{later.case_id}/person-link",
        json={"person_id": earlier.person_id, "basis": "the same custody photo and address"},
        headers=PRACTITIONER_TOKEN,
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["person_id"] == earlier.person_id
    assert linked.headers["ETag"] == f'"{linked.json()["version"]}"'
    view = (await api.get(f"/api/people/{later.case_id}", headers=PRACTITIONER_TOKEN)).json()
    assert [e["case_id"] for e in view["episodes"]] == [earlier.case_id, later.case_id]

    unlinked = await api.post(
        f"/api/cases/{later.case_id}/person-unlink",
        json={"reason": "a different person of a similar name"},
        headers=PRACTITIONER_TOKEN,
    )
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["person_id"] == later.own_person_id
    view = (await api.get(f"/api/people/{later.case_id}", headers=PRACTITIONER_TOKEN)).json()
    assert [e["case_id"] for e in view["episodes"]] == [later.case_id]
    again = await api.post(
        f"/api/cases/{later.case_id}/person-unlink", json={"reason": "once more"}, headers=PRACTITIONER_TOKEN
    )
    assert (again.status_code, again.json()["rule"]) == (409, "not_linked")


async def test_refused_links_are_problems_and_record_nothing(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    earlier = await opened_for(cases, Person(name="Ali Khan"))
    later = await opened_for(cases, Person(name="Ali Kahn"))
    before = await events(cases, later.case_id)
    url = f"/api/cases/{later.case_id}/person-link"
    basis = "the same custody photo"
    for body, headers, status, rule in [
        ({"person_id": NOBODY, "basis": basis}, PRACTITIONER_TOKEN, 404, "person_unknown"),
        ({"person_id": earlier.person_id, "basis": basis}, AUDITOR, 403, "role_not_allowed"),
        ({"person_id": earlier.person_id, "basis": "x"}, PRACTITIONER_TOKEN, 422, "invalid_input"),
        ({"person_id": "Ali Khan", "basis": basis}, PRACTITIONER_TOKEN, 422, "invalid_input"),
    ]:
        refused = await api.post(url, json=body, headers=headers)
        assert (refused.status_code, refused.json().get("rule")) == (status, rule), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await api.get(f"/api/people/{NOBODY}", headers=PRACTITIONER_TOKEN)).status_code == 404
    assert (await api.get("/api/tasks/no-such-task/candidates", headers=PRACTITIONER_TOKEN)).status_code == 404
    assert await events(cases, later.case_id) == before
    assert (await cases.store.case_state(later.case_id)).person_id == later.own_person_id
