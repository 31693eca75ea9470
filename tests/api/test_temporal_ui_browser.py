"""The Temporal UI (2.54, served by the dev server, no codec configured) in a real headless Chromium:
an operator reads a case's summary, details, current details and its timers' and activities' names,
and nothing of the person."""

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Page, expect
from temporalio.testing import WorkflowEnvironment

from domain.model import Person
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.api.conftest import free_port
from tests.api.test_browser import browser, page  # noqa: F401  (the session's Chromium, a fresh page)
from tests.conftest import staff_driver, start_dev_server, worker_for
from tests.workflows.journey import open_case


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui_env() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    ui_port = free_port()
    env = await start_dev_server(ui_port=ui_port)
    yield env, ui_port
    await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def ui_cases(
    ui_env: tuple[WorkflowEnvironment, int], sqlite_store: EventStore
) -> AsyncIterator[tuple[StaffCommands, str]]:
    """Cases on the UI's dev server, and the UI's address."""
    env, ui_port = ui_env
    task_queue = f"cases-ui-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue):
        yield staff_driver(env.client, sqlite_store, task_queue), f"http://127.0.0.1:{ui_port}"


async def test_an_operator_reads_a_case_in_the_temporal_ui_without_a_codec(
    page: Page,  # noqa: F811
    ui_cases: tuple[StaffCommands, str],
) -> None:
    cases, ui = ui_cases
    ref = f"CUST-{uuid.uuid4().hex[:8]}"
    person = Person(name="Rosalind Featherstonehaugh", date_of_birth="1971-03-14")
    state = await cases.start_case(open_case(ref).model_copy(update={"person": person}))

    await page.goto(f"{ui}/namespaces/default/workflows/{state.case_id}")
    # The timeline names the activity and the timer as the pathway does.
    await expect(page.get_by_text("record CaseOpened, StageEntered, TaskOpened")).to_be_visible(timeout=30_000)
    await expect(page.get_by_text("reminder: consent due soon")).to_be_visible()

    # Each text is rendered in a frame of its own, as the UI renders markdown.
    await page.get_by_role("tab", name="User Metadata").click()
    summary = page.frame_locator("#user-metadata-summary").locator("body")
    details = page.frame_locator("#user-metadata-details").locator("body")
    live = page.frame_locator("#user-metadata-current-details").locator("body")
    await expect(summary).to_have_text("L&D case at demo (custody)", timeout=30_000)
    for fact in ("Site: demo", "Setting: custody", "Referral source: custody_staff", "Age band: adult"):
        await expect(details).to_contain_text(fact)
    await expect(live).to_contain_text("stage: screening · site: demo · setting: custody · open tasks: 1 (consent)")
    metadata = page.get_by_test_id("user-metadata")
    for placeholder in ("No summary available", "No details available", "No Current Details"):
        await expect(metadata).not_to_contain_text(placeholder)

    # The input, which holds the person, stays ciphertext: nothing of them on any tab.
    for tab in ("Timeline", "Event History", "User Metadata"):
        await page.get_by_role("tab", name=tab).click()
        body = await page.locator("body").text_content() or ""
        for personal in ("Rosalind", "Featherstonehaugh", "1971-03-14", ref):
            assert personal not in body, (tab, personal)
