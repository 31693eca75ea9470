"""F31: what people write about a person in an API URL. A break-glass reason and an export's purpose
are sealed in the access log with the person's key (F6), since they may say who the person is; but
the API took them in query strings (`GET /api/cases/{id}?break_glass_reason=...`, `GET
/api/audit/cases/{id}/export?purpose=...`), where every proxy's access log keeps them in clear. Now
they are posted in JSON bodies; sent in a URL, they are refused before the case is read or anything
recorded. (That no operation takes them as query parameters: test_f30_reference_in_api_url.py.)"""

import uuid

import httpx

from domain.model import Role
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.security.test_f20_api_case_commands_scope import recorded
from tests.workflows.journey import open_case

NORTH_LINK_WORKER = token("lw-002", Role.LINK_WORKER, ("north",))  # the case is at demo
AUDITOR = token("au-001", Role.AUDITOR)
REASON = "Kit Marlowe-Tester moved to our custody suite"
PURPOSE = "subject access request from Kit Marlowe-Tester"


async def test_f31_a_break_glass_reason_in_the_url_is_refused_and_nothing_read(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"F31/{uuid.uuid4().hex[:8]}"))
    before = await recorded(cases, state.case_id)

    in_url = await api.get(
        f"/api/cases/{state.case_id}", params={"break_glass_reason": REASON}, headers=NORTH_LINK_WORKER
    )
    assert in_url.status_code == 400 and "/break-glass" in in_url.json()["detail"], in_url.text
    assert "Marlowe" not in in_url.text and "timeline" not in in_url.text
    assert await recorded(cases, state.case_id) == before  # not read, not recorded, nobody alerted

    posted = await api.post(
        f"/api/cases/{state.case_id}/break-glass", json={"reason": REASON}, headers=NORTH_LINK_WORKER
    )
    assert posted.status_code == 200 and posted.json()["state"]["case_id"] == state.case_id, posted.text
    assert "Marlowe" not in str(posted.request.url)
    [glass] = [r for r in await cases.service.access.list(state.case_id) if r.break_glass]
    assert glass.staff_id == "lw-002" and "Marlowe" not in glass.purpose  # sealed, as F6 keeps it


async def test_f31_an_export_purpose_in_the_url_is_refused_and_nothing_exported(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    state = await cases.start_case(open_case(f"F31/{uuid.uuid4().hex[:8]}"))
    before = await recorded(cases, state.case_id)
    for document in ("export", "export.html"):
        url = f"/api/audit/cases/{state.case_id}/{document}"
        in_url = await api.get(url, params={"purpose": PURPOSE}, headers=AUDITOR)
        assert in_url.status_code == 405 and in_url.headers["allow"] == "POST", (document, in_url.text)
        assert "Marlowe" not in in_url.text
    assert await recorded(cases, state.case_id) == before

    posted = await api.post(f"/api/audit/cases/{state.case_id}/export", json={"purpose": PURPOSE}, headers=AUDITOR)
    assert posted.status_code == 200 and posted.json()["purpose"] == PURPOSE, posted.text
    assert "Marlowe" not in str(posted.request.url)
