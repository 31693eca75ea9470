"""A person's story through the API, on the real stack (issue 19): `GET /api/people/{id}/fhir` is one
Patient and the episodes in the reader's sites; `GET /api/audit/people/{id}/timeline` is the episodes'
events merged in time order; an episode at another site is left out of the one and listed only as
existing in the other; refusals are problems that record nothing."""

import uuid

import httpx
from fhir.resources.R4B.bundle import Bundle

from domain.fhir_terms import FHIR_JSON
from domain.model import Person, Role
from domain.state import CaseState
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.fhir.validators import assert_valid
from tests.workflows.journey import open_case

PRACTITIONER = token("pr-001", Role.PRACTITIONER, ("demo",))
LINK_WORKER = token("lw-001", Role.LINK_WORKER, ("demo",))
AUDITOR = token("au-001", Role.AUDITOR, ("demo",))
NORTH_AUDITOR = token("au-001", Role.AUDITOR, ("north",))
NHS_NUMBER = "9434765919"
NOBODY = "person-00000000-0000-4000-8000-000000000000"


async def opened(cases: StaffCommands, site: str = "demo") -> CaseState:
    person = Person(name="Jo Bloggs", date_of_birth="1990-04-01", nhs_number=NHS_NUMBER)
    command = open_case(f"CUST/{uuid.uuid4().hex[:8]}", site=site).model_copy(update={"person": person})
    return await cases.start_case(command)


async def reads(cases: StaffCommands, case_id: str) -> int:
    return len(await cases.service.access.list(case_id))


async def test_a_persons_fhir_export_and_timeline_leave_another_sites_episode_out(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    first, elsewhere, second = await opened(cases), await opened(cases, "north"), await opened(cases)
    person_id = first.person_id
    assert person_id is not None and {elsewhere.person_id, second.person_id} == {person_id}
    north_reads = await reads(cases, elsewhere.case_id)

    exported = await api.get(f"/api/people/{second.case_id}/fhir", headers=PRACTITIONER)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == FHIR_JSON
    bundle = Bundle.model_validate_json(exported.text).model_dump(mode="json", exclude_none=True)
    assert_valid(bundle)
    kinds = [(e["resource"]["resourceType"], e["resource"].get("identifier")) for e in bundle["entry"]]
    patients = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patients == [person_id]
    assert [i[0]["value"] for kind, i in kinds if kind == "EpisodeOfCare"] == [first.case_id, second.case_id]
    assert elsewhere.case_id not in exported.text

    story = await api.get(f"/api/audit/people/{person_id}/timeline", headers=AUDITOR)
    assert story.status_code == 200, story.text
    found = story.json()
    assert [(e["case_id"], e["in_scope"], e["site"]) for e in found["episodes"]] == [
        (first.case_id, True, "demo"),
        (elsewhere.case_id, False, None),
        (second.case_id, True, "demo"),
    ]
    assert {e["case_id"] for e in found["entries"]} == {first.case_id, second.case_id}
    opened_in_order = [e["case_id"] for e in found["entries"] if e["type"] == "CaseOpened"]
    assert opened_in_order == [first.case_id, second.case_id]
    assert await reads(cases, elsewhere.case_id) == north_reads

    demo_reads = [await reads(cases, s.case_id) for s in (first, second)]
    for path, headers, status, rule in [
        (f"/api/people/{person_id}/fhir", LINK_WORKER, 403, "role_not_allowed"),
        (f"/api/audit/people/{person_id}/timeline", PRACTITIONER, 403, "role_not_allowed"),
        (f"/api/audit/people/{first.case_id}/timeline", NORTH_AUDITOR, 404, "case_unknown"),
        (f"/api/audit/people/{NOBODY}/timeline", AUDITOR, 404, "person_unknown"),
        (f"/api/people/{NOBODY}/fhir", PRACTITIONER, 404, "person_unknown"),
    ]:
        refused = await api.get(path, headers=headers)
        assert (refused.status_code, refused.json().get("rule")) == (status, rule), (path, refused.text)
    assert [await reads(cases, s.case_id) for s in (first, second)] == demo_reads
