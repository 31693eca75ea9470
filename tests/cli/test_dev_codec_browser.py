"""`pathway dev`'s Temporal UI in a real headless Chromium, as the README tells an operator to use it:
without a codec every viewer reads a case's summary and its timer names (no failing-codec banner);
an operator signed in to the inbox who sets the codec endpoint in the UI reads the payloads decoded;
anyone else who does the same still sees ciphertext."""

import re
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.api.test_browser import browser  # noqa: F401  (the session's Chromium)
from tests.cli.support import free_port
from tests.cli.test_dev_stack import start_dev, stop_dev

CASE_ID = re.compile(r"^case-[0-9a-f-]{36}$")
# Every run of the case workflow starts with this input field; only the codec can show it.
DECODED = '"case_id"'
SIGNED_IN = re.compile(r"My team's tasks|You are signed in as \w")
RECORDED = re.compile(r"append_events • record \w+")


async def sign_in(page: Page, inbox: str, staff_id: str) -> None:
    await page.goto(f"{inbox}/login")
    await page.get_by_label(staff_id, exact=False).check()
    await page.get_by_role("button", name="Sign in").click()
    # An operator has no inbox: their landing page says who they are.
    await expect(page.get_by_role("heading", level=1)).to_have_text(SIGNED_IN)


async def set_codec_endpoint(page: Page, endpoint: str) -> None:
    """The clicks the README lists: the Codec Server button at the top, "Use my browser setting", the
    endpoint, "Include cross-origin credentials", Apply, then reload the page (the payloads on it were
    read before)."""
    await page.get_by_role("button", name="Codec Server").click()
    await page.get_by_text("Use my browser setting and ignore Cluster-level setting.").click()
    await page.get_by_label("Codec Server browser endpoint").fill(endpoint)
    await page.get_by_text("Include cross-origin credentials").click()
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    await page.reload()


async def open_a_case(page: Page, ui: str) -> None:
    await page.goto(f"{ui}/namespaces/default/workflows")
    await page.get_by_role("link", name=CASE_ID).first.click()
    # The timeline names each append after the events it records.
    await expect(page.get_by_text(RECORDED).first).to_be_visible(timeout=30_000)


async def test_an_operator_decodes_payloads_in_the_dev_stacks_temporal_ui(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    ports = (free_port(), free_port(), free_port())
    _, ui_port, api_port = ports
    # localhost, not 127.0.0.1: the UI's origin is what the codec endpoint allows (CORS), and the
    # inbox's session cookie is for that host.
    ui, inbox = f"http://localhost:{ui_port}", f"http://localhost:{api_port}"
    process = await start_dev(tmp_path / "data", ports, tmp_path / "dev.log")
    try:
        for staff_id, decodes in (("op-001", True), ("pr-001", False)):
            context = await browser.new_context()
            page = await context.new_page()
            await open_a_case(page, ui)
            await page.get_by_role("tab", name="User Metadata").click()
            await expect(page.frame_locator("#user-metadata-summary").locator("body")).to_contain_text(
                "L&D case at demo"
            )
            await expect(page.get_by_text("Codec Server could not connect")).to_have_count(0)
            await page.get_by_role("tab", name="Timeline").click()
            await expect(page.get_by_text(DECODED)).to_have_count(0)

            await sign_in(page, inbox, staff_id)
            await open_a_case(page, ui)
            await set_codec_endpoint(page, f"{inbox}/codec")
            if decodes:
                await expect(page.get_by_text(DECODED).first).to_be_visible(timeout=30_000)
                await expect(page.get_by_text("Codec Server could not connect")).to_have_count(0)
            else:  # the codec refuses a practitioner (403): the UI says so and shows ciphertext
                failing = page.get_by_role("button", name="Codec Server could not connect")
                await expect(failing).to_be_visible(timeout=30_000)
                await expect(page.get_by_text(DECODED)).to_have_count(0)
            await context.close()
    finally:
        assert await stop_dev(process) == 0
