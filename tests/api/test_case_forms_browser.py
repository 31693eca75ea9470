"""A case page's form in a real headless Chromium (issue 18): a practitioner asks for a court report,
is told beside the question what is missing, and the case then shows the report asked for."""

import uuid
from datetime import datetime, timedelta

from playwright.async_api import Page, expect

from domain.model import Person
from domain.tasks import TaskKind
from domain.timeline import UK
from tests.api.conftest import LiveServer
from tests.api.test_browser import browser, page, sign_in  # noqa: F401  (the session's Chromium, a page)
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task


async def test_a_practitioner_requests_a_court_report_from_the_case_page(
    page: Page,  # noqa: F811
    live_server: LiveServer,
) -> None:
    cases = live_server.cases
    ref = f"WEB/{uuid.uuid4().hex[:8]}"
    opening = open_case(ref).model_copy(update={"person": Person(name="Robin Example")})
    state = await cases.start_case(opening)
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    await sign_in(page, live_server, "pr-001")

    # The inbox tells the case by its person's initials and reference; the link holds only the id.
    link = page.locator("a.pathway-case-link", has_text=f"RE · {ref}").first
    assert await link.get_attribute("href") == f"/cases/{state.case_id}"
    await link.click()
    await expect(page.locator("#case-handle")).to_have_text(f"Robin Example · {ref}")
    assert ref not in page.url

    form = page.locator("#court-report")
    hearing = (datetime.now(UK) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    await form.get_by_label("Bail or remand").check()
    await form.get_by_label("Hearing at").fill(hearing.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name="Request the report").click()

    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Choose recipients")
    await expect(page.locator("#recipients-error")).to_contain_text("Choose recipients")
    await expect(form.get_by_label("Hearing at")).to_have_value(hearing.strftime("%Y-%m-%dT%H:%M"))
    assert (await cases.store.case_state(state.case_id)).court_reports == ()

    await form.get_by_label("Court", exact=True).check()
    await form.get_by_role("button", name="Request the report").click()
    await expect(page.locator(".pathway-notice")).to_have_text("Court report requested")
    await expect(page.locator("#court-reports")).to_contain_text("Bail or remand")
    [report] = (await cases.store.case_state(state.case_id)).court_reports
    assert report.hearing_at == hearing and report.recipients == ("court",)
