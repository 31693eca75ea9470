"""The auditors' web pages (api/audit_pages.py), signed in with the session cookie as a person is:
from the landing page to a case's timeline (now and as known at a moment), its document, and the
export; each read written to the access log as the API's are. Refusals: tests/security."""

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from markupsafe import escape
from playwright.async_api import Browser, expect

from domain.model import Person
from service.staff import StaffCommands
from tests.api.conftest import LiveServer
from tests.api.test_accessibility import sign_in_as
from tests.api.test_audit_api import NAME, NOTE, a_case
from tests.api.test_browser import browser  # noqa: F401  (the session's Chromium)
from tests.api.test_web import csrf_of, signed_in, web  # noqa: F401  (the in-process client)
from tests.workflows.journey import open_case


async def test_an_auditor_goes_from_the_cases_to_a_timeline_and_exports_the_record(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
) -> None:
    case = await a_case(live_server.cases)
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in_as(page, live_server, "au-001")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Cases")  # the auditors' landing page
        short = case.case_id.removeprefix("case-")[:8]
        await page.get_by_role("link", name=f"Timeline of case {short}").click()

        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Timeline of case {short}")
        events = await live_server.cases.store.read_stream(case.case_id)
        await expect(page.locator("#as-of")).to_contain_text(f"The record as it stands: {len(events)} event(s)")
        await expect(page.locator("main")).to_contain_text(NAME)  # opened for the auditor, shown as text
        await expect(page.locator("main")).to_contain_text(NOTE)

        await page.get_by_role("link", name="Export the whole record").click()
        await page.get_by_role("button", name="Export the record").click()
        await expect(page.locator("#purpose-error")).to_contain_text("Give the purpose of the export")
        await page.get_by_label("Purpose of the export").fill("subject access request")
        await page.get_by_role("button", name="Export the record").click()

        await expect(page.get_by_role("heading", level=1)).to_have_text("Case record")
        await expect(page.locator("body")).to_contain_text("for: subject access request")
        await expect(page.locator("body")).to_contain_text("The record verifies")
    finally:
        await context.close()
    # The timeline and the export, each once: the export form and its failed submit read nothing.
    logged = await audit_reads(live_server.cases, case.case_id)
    assert logged == [("audit_timeline", "audit: timeline"), ("export", "subject access request")]


async def test_the_timeline_as_known_at_a_moment_and_as_a_document(
    web: httpx.AsyncClient,  # noqa: F811
    cases: StaffCommands,
) -> None:
    case = await a_case(cases)
    await signed_in(web, "au-001")
    as_of = case.screened_at.astimezone(UTC).isoformat()

    then = await web.get(f"/cases/{case.case_id}/audit", params={"as_of": as_of})
    assert then.status_code == 200, then.text
    assert f"{case.events_when_screened} event(s)" in then.text and "The record as it was known at" in then.text
    assert f'href="/cases/{case.case_id}/audit/document?as_of={quote(as_of)}"' in then.text

    document = await web.get(f"/cases/{case.case_id}/audit/document", params={"as_of": as_of})
    assert document.status_code == 200 and document.text.lstrip().startswith("<!DOCTYPE html>")
    assert "<main>" in document.text and str(escape(NAME)) in document.text and "<script" not in document.text

    naive = await web.get(f"/cases/{case.case_id}/audit", params={"as_of": "2026-11-29T10:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.text
    garbled = await web.get(f"/cases/{case.case_id}/audit", params={"as_of": "yesterday"})
    assert garbled.status_code == 422

    logged = await audit_reads(cases, case.case_id)
    assert logged == [("audit_timeline", f"audit: timeline as of {datetime.fromisoformat(as_of).isoformat()}")] * 2


async def test_an_export_needs_its_form_token_and_a_purpose(
    web: httpx.AsyncClient,  # noqa: F811
    cases: StaffCommands,
) -> None:
    case = await a_case(cases)
    csrf = await signed_in(web, "au-001")
    form = await web.get(f"/cases/{case.case_id}/export")
    assert form.status_code == 200 and csrf_of(form.text) == csrf

    forged = await web.post(f"/cases/{case.case_id}/export", data={"purpose": "subject access request"})
    assert forged.status_code == 403 and "this form has expired" in forged.text
    short = await web.post(f"/cases/{case.case_id}/export", data={"csrf": csrf, "purpose": "ab"})
    assert short.status_code == 422 and "nhsuk-error-summary" in short.text and 'value="ab"' in short.text
    assert await audit_reads(cases, case.case_id) == []

    exported = await web.post(f"/cases/{case.case_id}/export", data={"csrf": csrf, "purpose": "court order <b>"})
    assert exported.status_code == 200 and "Case record" in exported.text
    assert str(escape("court order <b>")) in exported.text and "court order <b>" not in exported.text
    assert await audit_reads(cases, case.case_id) == [("export", "court order <b>")]


async def test_a_cases_timeline_leads_to_its_persons_story_across_episodes(
    web: httpx.AsyncClient,  # noqa: F811
    cases: StaffCommands,
) -> None:
    person = Person(name=NAME, date_of_birth="1990-04-01", nhs_number="9434765919")
    first, second = [
        await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}").model_copy(update={"person": person}))
        for _ in range(2)
    ]
    assert first.person_id is not None and second.person_id == first.person_id
    await signed_in(web, "au-001")

    timeline = await web.get(f"/cases/{second.case_id}/audit")
    story_url = f"/people/{first.person_id}/audit"
    assert timeline.status_code == 200 and f'href="{story_url}"' in timeline.text

    story = await web.get(story_url)
    assert story.status_code == 200, story.text
    events = [len(await cases.store.read_stream(s.case_id)) for s in (first, second)]
    assert f"2 episode(s), {sum(events)} event(s)" in story.text
    # Each row of the merged timeline names its episode, linked to that episode's own timeline.
    for state, count in zip((first, second), events, strict=True):
        link = f'<a href="/cases/{state.case_id}/audit">case {state.case_id.removeprefix("case-")[:8]}</a>'
        assert story.text.count(link) == count + 1  # its rows, and its line in the list of episodes
    assert [r[0] for r in await audit_reads(cases, first.case_id)] == ["audit_timeline"]
    assert [r[0] for r in await audit_reads(cases, second.case_id)] == ["audit_timeline", "audit_timeline"]


async def audit_reads(cases: StaffCommands, case_id: str) -> list[tuple[str, str]]:
    """The auditor's reads of the case, with their purposes, but for reads of the person's handle:
    signing in lands on the cases index, which shows (and records) it."""
    entries = await cases.access_log(case_id)
    return [(r.action, r.purpose) for r in entries if r.staff_id == "au-001" and r.action != "read_handle"]
