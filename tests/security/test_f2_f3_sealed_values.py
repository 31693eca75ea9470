"""F2 and F3 of issue 15: sealed values posted as plaintext, and sealed values that are not the case's.

F2 (before): an operator copied another site's sealed values (as the Temporal UI shows them) into a
new case at their own site; they were stored as they were and opened with the key of the person they
named, so the new case showed the other person's name and NHS number in plain text.
F3 (before): a malformed sealed value (a real person id, a one-character token) created the case,
then every read of it answered 500; completing a task with one answered 500 yet recorded the events.
"""

import uuid
from typing import Any

import httpx
from temporalio.client import Client

from domain.commands import CompleteTask
from domain.model import Person, Role
from domain.personal import UNREADABLE, WITHHELD, sealed_for
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from workflows.case_workflow import CaseWorkflow

DEMO = token("pr-001", Role.PRACTITIONER)
AUDITOR = token("au-001", Role.AUDITOR, ("demo",))
OTHER_NAME = "Nora Northern"
OTHER_PERSON = Person(name=OTHER_NAME, date_of_birth="1979-03-04", nhs_number="9434765919", address="1 North St")


async def another_sites_person(cases: StaffCommands) -> dict[str, str]:
    """A case at north (pr-002 works there), and its person's fields as stored: sealed."""
    command = open_case(f"NORTH/{uuid.uuid4().hex[:8]}", site="north").model_copy(
        update={"actor": cases.actor("pr-002"), "person": OTHER_PERSON}
    )
    state = await cases.start_case(command)
    stored = await cases.store.case_state(state.case_id)
    sealed = {field: value for field, value in stored.person.model_dump().items() if value is not None}
    assert all(sealed_for(value) for value in sealed.values()), "the stored person is sealed"
    return sealed


def new_case(person: dict[str, Any]) -> dict[str, Any]:
    ref = f"CUST/{uuid.uuid4().hex[:8]}"
    return {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": ref,
        "age_band": "adult",
        "person": person,
    }


async def test_another_persons_sealed_values_posted_as_a_new_case_are_refused(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    sealed = await another_sites_person(cases)
    before = await cases.store.case_ids()
    answer = await api.post("/api/cases", json=new_case({"name": sealed["name"]}), headers=DEMO)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "sealed_input" and "person.name" in answer.json()["detail"]
    every_field = await api.post("/api/cases", json=new_case(sealed), headers=DEMO)
    assert every_field.status_code == 422 and OTHER_NAME not in every_field.text
    assert await cases.store.case_ids() == before  # nothing was started or recorded


async def test_sealed_looking_text_in_a_task_outcome_records_nothing(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    sealed = await another_sites_person(cases)
    state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}"))
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    events = len(await cases.store.read_stream(state.case_id))
    screening = {**OUTCOMES[TaskKind.SCREENING], "note": sealed["name"]}
    task_id = open_task(state, TaskKind.SCREENING)
    answer = await api.post(f"/api/tasks/{task_id}/complete", json={"outcome": screening}, headers=DEMO)
    assert answer.status_code == 422 and answer.json()["rule"] == "sealed_input"
    assert len(await cases.store.read_stream(state.case_id)) == events


async def test_a_malformed_sealed_value_is_refused_before_anything_is_stored(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    person_id = await cases.person_of(f"case-{uuid.uuid4()}")
    before = await cases.store.case_ids()
    for malformed in (f"sealed:v1:{person_id}:x", f"sealed:v1:{person_id}:{'A' * 60}", "SEALED:v1:anything"):
        answer = await api.post("/api/cases", json=new_case({"name": malformed}), headers=DEMO)
        assert answer.status_code == 422 and answer.json()["rule"] == "sealed_input", answer.text
    assert await cases.store.case_ids() == before


async def raw_screening(client: Client, state: CaseState, note: str) -> None:
    """A screening recorded by an Update sent straight to the workflow (someone with Temporal access,
    or a bug), past the service: the store then holds `note` exactly as sent."""
    command = CompleteTask(
        actor=PRACTITIONER,
        task_id=open_task(state, TaskKind.SCREENING),
        outcome={**OUTCOMES[TaskKind.SCREENING], "note": note},
    )
    await client.get_workflow_handle_for(CaseWorkflow.run, state.case_id).execute_update(
        CaseWorkflow.complete_task, command
    )


async def consented_case(cases: StaffCommands) -> CaseState:
    state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}"))
    return await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)


async def test_a_stored_value_sealed_for_another_person_is_withheld_and_the_attempt_recorded(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    sealed = await another_sites_person(cases)
    state = await consented_case(cases)
    await raw_screening(cases.client, state, sealed["name"])
    case = await api.get(f"/api/cases/{state.case_id}", headers=DEMO)
    assert case.status_code == 200, case.text
    assert OTHER_NAME not in case.text and case.json()["state"]["screening"]["note"] == WITHHELD
    access = await api.get(f"/api/cases/{state.case_id}/access", headers=AUDITOR)
    assert "withheld" in [entry["action"] for entry in access.json()]


async def test_no_read_of_a_stored_value_that_does_not_open_fails(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    state = await consented_case(cases)
    # The case's own person, with a token long enough to look sealed that does not decrypt.
    await raw_screening(cases.client, state, f"sealed:v1:{await cases.person_of(state.case_id)}:{'A' * 60}")
    case_id = state.case_id
    reads = {
        "case": await api.get(f"/api/cases/{case_id}", headers=DEMO),
        "page": await api.get(f"/cases/{case_id}", headers=DEMO),
        "timeline": await api.get(f"/api/audit/cases/{case_id}/timeline", headers=AUDITOR),
        "timeline document": await api.get(f"/api/audit/cases/{case_id}/timeline.html", headers=AUDITOR),
        "export": await api.post(f"/api/audit/cases/{case_id}/export", json={"purpose": "F3 test"}, headers=AUDITOR),
    }
    for what, answer in reads.items():
        assert answer.status_code == 200, f"{what}: {answer.status_code} {answer.text[:200]}"
    assert reads["case"].json()["state"]["screening"]["note"] == UNREADABLE
