"""Issue 18: the auditors' web pages read a whole record, the person's name and what was written
about them included, over a session cookie. Every other role signed in on the web tries each of them
(the timeline, its document, the person's story across episodes, the export form, and the export
posted with a valid form token) and is
refused with a 403 page that shows nothing of the case; nothing is written to the case's access log in
their name. An auditor's own reads are shown in tests/api/test_audit_pages.py."""

import httpx
from markupsafe import escape

from service.staff import StaffCommands
from tests.api.test_audit_api import NAME, a_case
from tests.api.test_web import signed_in, web  # noqa: F401  (the in-process client)

NOT_AUDITORS = ("pr-001", "lw-001", "tl-001", "op-001", "ad-001")


async def test_only_auditors_open_the_audit_pages(web: httpx.AsyncClient, cases: StaffCommands) -> None:  # noqa: F811
    case = await a_case(cases)
    before = await reads_of_the_record(cases, case.case_id)
    for staff_id in NOT_AUDITORS:
        csrf = await signed_in(web, staff_id)
        answers = [
            await web.get(f"/cases/{case.case_id}/audit"),
            await web.get(f"/cases/{case.case_id}/audit", params={"as_of": "2026-01-01T00:00:00Z"}),
            await web.get(f"/cases/{case.case_id}/audit/document"),
            await web.get(f"/people/{case.case_id}/audit"),
            await web.get(f"/cases/{case.case_id}/export"),
            await web.post(f"/cases/{case.case_id}/export", data={"csrf": csrf, "purpose": "subject access request"}),
        ]
        for answer in answers:
            assert answer.status_code == 403, (staff_id, answer.request.url, answer.text[:300])
            assert "You cannot do that" in answer.text and "cannot audit a case" in answer.text
            assert str(escape(NAME)) not in answer.text and case.case_id not in answer.text
    assert await reads_of_the_record(cases, case.case_id) == before  # nobody read it, so nothing was logged


async def test_the_audit_pages_need_a_sign_in(web: httpx.AsyncClient, cases: StaffCommands) -> None:  # noqa: F811
    case = await a_case(cases)
    for path in (
        f"/cases/{case.case_id}/audit",
        f"/cases/{case.case_id}/audit/document",
        f"/people/{case.case_id}/audit",
        f"/cases/{case.case_id}/export",
    ):
        answer = await web.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    posted = await web.post(f"/cases/{case.case_id}/export", data={"purpose": "subject access request"})
    assert posted.status_code == 401 and str(escape(NAME)) not in posted.text


async def reads_of_the_record(cases: StaffCommands, case_id: str) -> int:
    """Access rows but for reads of the person's handle: signing in lands on a list that shows it
    (and records that) to those allowed to read the case."""
    return sum(1 for entry in await cases.access_log(case_id) if entry.action != "read_handle")
