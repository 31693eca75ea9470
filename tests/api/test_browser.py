"""The web inbox in a real headless Chromium (Debian's package, driven by Playwright; no browser download).

Each test signs in through the dev login page as one of the demo staff of the shipped configuration
and works through the pages as a person would, against a real worker and Temporal dev server."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.access_log import AccessLog
from tests.api.conftest import LiveServer
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root in a sandbox with no outside network: no sandbox, and no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    opened = await context.new_page()
    yield opened
    await context.close()


async def sign_in(page: Page, server: LiveServer, staff_id: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.get_by_label(staff_id, exact=False).check()
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My team's tasks")


async def started_case(cases: StaffCommands, through: tuple[TaskKind, ...] = ()) -> CaseState:
    state = await cases.start_case(open_case(f"WEB/{uuid.uuid4().hex[:8]}"))
    for kind in through:
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)
    return state


async def test_a_practitioner_fixes_an_invalid_screening_and_the_case_moves_on(
    page: Page, live_server: LiveServer
) -> None:
    state = await started_case(live_server.cases, through=(TaskKind.CONSENT,))
    task_id = open_task(state, TaskKind.SCREENING)
    await sign_in(page, live_server, "pr-001")

    await page.locator(f'tr[data-task-id="{task_id}"] a', has_text="Screening").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Screening")
    await page.get_by_label("Instrument version").fill("2019")
    await page.get_by_role("button", name="Save and complete").click()

    # Nothing was recorded; the page says what is missing, at the top and beside each question.
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter instrument")
    await expect(page.locator("#instrument-error")).to_have_text("Error: Enter instrument")
    await expect(page.locator("#urgency-error")).to_contain_text("Choose urgency")
    await expect(page.get_by_label("Instrument version")).to_have_value("2019")  # what was typed stays
    assert (await live_server.cases.store.case_state(state.case_id)).version == state.version

    await page.get_by_label("Instrument", exact=True).fill("ld-screen")
    await page.get_by_label("Urgent", exact=True).check()
    await page.get_by_label("Mental health").check()
    await page.get_by_label("Medium").check()
    await page.locator("#assessment_needed").check()  # "Yes"
    await page.get_by_label("Note (optional)").fill("<script>window.pwned = true</script> prefers afternoons")
    await page.get_by_role("button", name="Save and complete").click()

    await expect(page.locator(".pathway-notice")).to_contain_text("Screening recorded; the case is now at assessment")
    await expect(page.locator("#stage")).to_have_text("Assessment")
    # The note is shown as the text it is, never run.
    await expect(page.locator(".pathway-written").first).to_contain_text("<script>window.pwned = true</script>")
    assert await page.evaluate("window.pwned") is None

    await page.get_by_role("link", name="Inbox").click()
    await expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    after = await live_server.cases.store.case_state(state.case_id)
    assert after.screening is not None and after.screening.instrument == "ld-screen"


async def test_a_link_worker_records_a_contact_after_correcting_it(page: Page, live_server: LiveServer) -> None:
    journey = (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION)
    state = await started_case(live_server.cases, through=journey)
    decision = {**OUTCOMES[TaskKind.REFERRAL_DECISION], "link_work_goals": ["housing"]}
    state = await live_server.cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)
    task_id = open_task(state, TaskKind.CONTACT)
    await sign_in(page, live_server, "lw-001")

    await page.locator(f'tr[data-task-id="{task_id}"] a').first.click()
    await page.get_by_role("button", name="Take this task").click()
    await expect(page.locator(".pathway-notice")).to_have_text("You have taken this task")
    await expect(page.locator("#assignee")).to_have_text("lw-001")

    await page.get_by_label("Attended", exact=True).check()
    await page.get_by_label("Next contact in days").fill("40")
    await page.get_by_role("button", name="Save and complete").click()
    await expect(page.locator("#next_contact_in_days-error")).to_contain_text("Next contact in days must be 28 or less")

    await page.get_by_label("Next contact in days").fill("7")
    await page.get_by_role("button", name="Save and complete").click()
    await expect(page.locator(".pathway-notice")).to_contain_text("Contact recorded")
    await expect(page.locator("#timeline")).to_contain_text("Contact: attended")

    await page.goto(f"{live_server.url}/inbox?view=mine")
    await expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    after = await live_server.cases.store.case_state(state.case_id)
    assert after.tasks[task_id].status == "completed"
    assert [t.kind for t in after.open_tasks] == [TaskKind.CONTACT]  # the next meeting is booked


async def test_a_team_lead_reassigns_a_task(page: Page, live_server: LiveServer) -> None:
    state = await started_case(live_server.cases)
    task_id = open_task(state, TaskKind.CONSENT)
    await sign_in(page, live_server, "tl-001")

    await page.goto(f"{live_server.url}/inbox?view=unassigned")
    await page.locator(f'tr[data-task-id="{task_id}"] a').first.click()
    await page.get_by_label("Give this task to").select_option("pr-002")
    await page.get_by_role("button", name="Reassign").click()

    await expect(page.locator(".pathway-notice")).to_have_text("Task given to pr-002")
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    await expect(row).to_contain_text("pr-002")
    task = await live_server.cases.store.get_task(task_id)
    assert task is not None and task.assignee == "pr-002"


async def test_a_link_worker_of_another_site_cannot_open_the_case(page: Page, live_server: LiveServer) -> None:
    state = await started_case(live_server.cases)
    task_id = open_task(state, TaskKind.CONSENT)
    await sign_in(page, live_server, "lw-002")  # works at north; the case is at demo

    await expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    response = await page.goto(f"{live_server.url}/cases/{state.case_id}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Case not found")
    response = await page.goto(f"{live_server.url}/tasks/{task_id}")
    assert response is not None and response.status == 404
    logged = await AccessLog(live_server.cases.store.engine).list(state.case_id)
    assert [r.staff_id for r in logged if r.staff_id == "lw-002"] == []
