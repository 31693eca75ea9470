"""F20 of issue 18: the API's new ways into a case, tried from another site.

- Export another site's case as FHIR (the whole record, opened for a clinician) by its id.
- Probe another site's case with If-Match: if a wrong version answered 412 and a right one 404 (or
  anything else), the answers would confirm the case exists and leak how far it has gone.

Both are refused exactly as an unknown case is (404 `case_unknown`, the same words but for the id), with
no ETag, and leave no trace in the case: no event, no access row."""

import uuid

import httpx
import pytest

from domain.model import Role
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.workflows.journey import open_case

NORTH_PRACTITIONER = token("pr-002", Role.PRACTITIONER, ("north",))  # signed in for north only
UNKNOWN_CASE = "case-00000000-0000-0000-0000-000000000000"


async def recorded(cases: StaffCommands, case_id: str) -> tuple[int, int]:
    return len(await cases.store.read_stream(case_id)), len(await cases.service.access.list(case_id))


def without_id(answer: httpx.Response, case_id: str) -> dict[str, object]:
    assert answer.status_code == 404 and "etag" not in answer.headers, answer.text
    body: dict[str, object] = answer.json()
    return {key: str(value).replace(case_id, "<id>") for key, value in body.items()}


async def test_fhir_export_of_another_sites_case_looks_like_no_case(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    case_id = (await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}"))).case_id
    before = await recorded(cases, case_id)
    theirs = await api.get(f"/api/cases/{case_id}/fhir", headers=NORTH_PRACTITIONER)
    nobodys = await api.get(f"/api/cases/{UNKNOWN_CASE}/fhir", headers=NORTH_PRACTITIONER)
    assert without_id(theirs, case_id) == without_id(nobodys, UNKNOWN_CASE)
    assert theirs.json()["rule"] == "case_unknown" and "resourceType" not in theirs.text
    assert await recorded(cases, case_id) == before


@pytest.mark.parametrize("version", ["current", "stale", "any"])
async def test_if_match_says_nothing_about_another_sites_case(
    api: httpx.AsyncClient, cases: StaffCommands, version: str
) -> None:
    state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}"))
    if_match = {"current": f'"{state.version}"', "stale": f'"{state.version - 1}"', "any": "*"}[version]
    before = await recorded(cases, state.case_id)
    body = {"cohort": "veteran", "member": True, "reason": "served 2004-2012"}
    headers = {**NORTH_PRACTITIONER, "If-Match": if_match}
    theirs = await api.post(f"/api/cases/{state.case_id}/cohorts", json=body, headers=headers)
    nobodys = await api.post(f"/api/cases/{UNKNOWN_CASE}/cohorts", json=body, headers=headers)
    assert without_id(theirs, state.case_id) == without_id(nobodys, UNKNOWN_CASE)
    assert await recorded(cases, state.case_id) == before
