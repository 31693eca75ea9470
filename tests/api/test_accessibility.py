"""Every page of the web app, in every state a person meets, in a real headless Chromium: axe-core
(from node_modules, pinned in package-lock.json) finds no violation; at 320 CSS pixels wide (and at
1280) the page reflows without scrolling sideways (WCAG 1.4.10); a page with an error summary opens
with the focus on it.

PAGES is the list of visits: a new page is one more line. A path names the world's cases and tasks
as `{name}` (see `a_world`); a visit may act on the page first (submit a form), or read a document
that is sent as a download."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect
from temporalio.testing import WorkflowEnvironment

from domain.commands import OpenCase, RecordReleaseDate, RequestCourtReport
from domain.config import PathwayConfig, ReferralTimings
from domain.model import Actor, Person, Role
from domain.outcomes import CourtReportPurpose, HearingResult, Recipient
from domain.state import CaseState
from domain.tasks import TaskKind
from domain.timeline import UK
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.api.conftest import LiveServer
from tests.api.test_browser import (
    browser,  # noqa: F401  (the session's Chromium)
    started_case,
)
from tests.conftest import staff_driver, worker_for
from tests.workflows.conftest import Mailbox, serving
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task, task_opened
from workers.settings import SHIPPED_CONFIG, load_config

AXE = (Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js").read_text()
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=320, height=640)  # WCAG 1.4.10: 320 CSS pixels, 1280 zoomed to 400%
UNKNOWN_CASE = "case-00000000-0000-4000-8000-000000000000"
RUN_AXE = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target).join(", ")}`);
}"""
SCROLL_WIDTH = "document.documentElement.scrollWidth"

Act = Callable[[Page], Awaitable[None]]


def pressing(button: str) -> Act:
    """Press a form's button with nothing filled in: the page comes back with its errors."""

    async def act(page: Page) -> None:
        await page.get_by_role("button", name=button).click()

    return act


def filling(label: str, text: str, button: str) -> Act:
    async def act(page: Page) -> None:
        await page.get_by_label(label, exact=True).fill(text)
        await page.get_by_role("button", name=button).click()

    return act


@dataclass(frozen=True)
class Visit:
    name: str
    staff_id: str  # "" for a visitor not signed in
    path: str  # with `{name}`s of the world
    status: int = 200
    act: Act | None = None
    download: bool = False  # sent as an attachment: read it, then show it in the page


CASE, TASK, EXPORT = "/cases/{contact_case}", "Save and complete", "Export the record"
PAGES = [
    Visit("login", "", "/login"),
    Visit("login, nobody chosen", "", "/login", 422, pressing("Sign in")),
    Visit("signed in (operator)", "op-001", "/signed-in"),
    Visit("signed in (admin)", "ad-001", "/signed-in"),
    Visit("inbox, my team's tasks", "pr-001", "/inbox?view=team"),
    Visit("inbox, my tasks", "lw-001", "/inbox?view=mine"),
    Visit("inbox, unassigned", "tl-001", "/inbox?view=unassigned"),
    Visit("inbox, overdue", "tl-001", "/inbox?view=overdue"),
    Visit("inbox, due today", "pr-001", "/inbox?view=due_today"),
    Visit("inbox, empty", "lw-002", "/inbox?view=mine"),
    Visit("cases index", "pr-001", "/cases"),
    Visit("cases index (auditor)", "au-001", "/cases"),
    Visit("case, with referrals and a notice", "pr-001", CASE + "?notice=Case+opened"),
    Visit("case, age not verified", "pr-001", "/cases/{unverified_case}"),
    Visit("case (auditor)", "au-001", CASE),
    Visit("case, as a link worker (referral form only)", "lw-001", CASE),
    Visit("case, referral outcome refused", "pr-001", CASE, 422, pressing("Record the outcome")),
    Visit("case, court report request refused", "pr-001", CASE, 422, pressing("Request the report")),
    Visit("case, closing refused", "pr-001", CASE, 422, pressing("Close the case")),
    Visit("case, with a court report", "pr-001", "/cases/{court_report_case}"),
    Visit("case, seen before (one episode at another service)", "pr-001", "/cases/{seen_before_case}"),
    Visit("case, seen before, unlink refused", "pr-001", "/cases/{seen_before_case}", 422, pressing("Unlink")),
    Visit("case, link to a person refused", "pr-001", "/cases/{unverified_case}", 422, pressing("Link to the person")),
    Visit("new case form", "pr-001", "/cases/new"),
    Visit("new case, failed submit", "pr-001", "/cases/new", 422, pressing("Start the case")),
    Visit("task: consent", "pr-001", "/tasks/{consent}"),
    Visit("task: consent, failed submit", "pr-001", "/tasks/{consent}", 422, pressing(TASK)),
    Visit("task: screening", "pr-001", "/tasks/{screening}"),
    Visit("task: screening, failed submit", "pr-001", "/tasks/{screening}", 422, pressing(TASK)),
    Visit("task: screening, seen before", "pr-001", "/tasks/{seen_before_screening}"),
    Visit("task: person match", "pr-001", "/tasks/{person_match}"),
    Visit("task: person match, failed submit", "pr-001", "/tasks/{person_match}", 422, pressing(TASK)),
    Visit("task: assessment", "pr-001", "/tasks/{assessment}"),
    Visit("task: assessment, failed submit", "pr-001", "/tasks/{assessment}", 422, pressing(TASK)),
    Visit("task: share information", "pr-001", "/tasks/{share_information}"),
    Visit("task: referral decision", "pr-001", "/tasks/{referral_decision}"),
    Visit("task: contact", "lw-001", "/tasks/{contact}"),
    Visit("task: contact, failed submit", "lw-001", "/tasks/{contact}", 422, pressing(TASK)),
    Visit("task: closure", "pr-001", "/tasks/{closure}"),
    Visit("task: closure, failed submit", "pr-001", "/tasks/{closure}", 422, pressing(TASK)),
    Visit("task: court report", "pr-001", "/tasks/{court_report}"),
    Visit("task: court report, failed submit", "pr-001", "/tasks/{court_report}", 422, pressing(TASK)),
    Visit("task: chase referral", "lw-001", "/tasks/{chase_referral}"),
    Visit("task: chase referral, failed submit", "lw-001", "/tasks/{chase_referral}", 422, pressing(TASK)),
    Visit("task: disengagement review", "lw-001", "/tasks/{disengagement_review}"),
    Visit("task: disengagement review, failed submit", "lw-001", "/tasks/{disengagement_review}", 422, pressing(TASK)),
    Visit("task: follow-up", "lw-001", "/tasks/{follow_up}"),
    Visit("task: follow-up, failed submit", "lw-001", "/tasks/{follow_up}", 422, pressing(TASK)),
    Visit("task: hearing outcome", "pr-001", "/tasks/{hearing_outcome}"),
    Visit("task: hearing outcome, failed submit", "pr-001", "/tasks/{hearing_outcome}", 422, pressing(TASK)),
    Visit("task: RECONNECT engagement", "lw-001", "/tasks/{reconnect_engagement}"),
    Visit("task: RECONNECT engagement, failed submit", "lw-001", "/tasks/{reconnect_engagement}", 422, pressing(TASK)),
    Visit("task, completed", "pr-001", "/tasks/{completed}"),
    Visit("task, team lead (reassign)", "tl-001", "/tasks/{consent}"),
    Visit("access log", "au-001", CASE + "/access"),
    Visit("reports", "tl-001", "/reports"),
    Visit("report document", "tl-001", "/reports/download?format=html", download=True),
    Visit("audit timeline", "au-001", CASE + "/audit"),
    Visit("audit timeline, as known then", "au-001", CASE + "/audit?as_of=2020-01-01T00:00:00Z"),
    Visit("audit, a person's story across episodes", "au-001", "/people/{contact_case}/audit"),
    Visit("audit timeline document", "au-001", CASE + "/audit/document"),
    Visit("export form", "au-001", CASE + "/export"),
    Visit("export, failed submit", "au-001", CASE + "/export", 422, pressing(EXPORT)),
    Visit("export document", "au-001", CASE + "/export", 200, filling("Purpose of the export", "court order", EXPORT)),
    Visit("case not found, break glass", "pr-001", f"/cases/{UNKNOWN_CASE}", 404),
    Visit("break glass, reason too short", "pr-001", f"/cases/{UNKNOWN_CASE}", 422, filling("Why do you need to read this case?", "x", "Read the case")),  # noqa: E501
    Visit("refused (403)", "pr-001", "/reports", 403),
    Visit("page not found (404)", "pr-001", "/no-such-page", 404),
    Visit("bad input (422)", "tl-001", "/reports?period=2026-13", 422),
]  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """What one visit found."""

    visit: Visit
    status: int
    violations: list[str]
    desktop_width: int  # scrollWidth at 1280
    phone_width: int  # scrollWidth at 320
    summary_focused: bool | None  # None: the page has no error summary

    @property
    def wrong(self) -> bool:
        return bool(
            self.violations
            or self.status != self.visit.status
            or self.desktop_width > DESKTOP["width"]
            or self.phone_width > PHONE["width"]
            or self.summary_focused is False
        )

    def __str__(self) -> str:
        focus = {None: "", True: ", focus on the summary", False: ", focus NOT on the summary"}[self.summary_focused]
        return (
            f"{self.visit.name}: {self.status}, {self.desktop_width} px wide at 1280, {self.phone_width} at 320"
            f"{focus}; axe: {'; '.join(self.violations) or 'none'}"
        )


def with_quick_demo_timings(config: PathwayConfig) -> PathwayConfig:
    """The configuration with the demo site's referrals chased a minute after they are sent, a review
    after one missed contact, and one follow-up a day (a minute there) after link work ends: every kind
    of task opens within about a minute."""
    quick = {
        "referral_timings": ReferralTimings(chase_after=1, escalate_after=2, unit="minutes"),
        "missed_contacts_for_review": 1,
        "follow_up_offsets_days": (1,),
    }
    demo = config.sites["demo"].model_copy(update=quick)
    return config.model_copy(update={"sites": {**config.sites, "demo": demo}})


@pytest_asyncio.fixture(loop_scope="session")
async def cases(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[StaffCommands]:
    """As tests/conftest.py's, but cases open with the quick demo timings (the workflow keeps the site's
    configuration its case opened with), and the worker sends referrals to a mail server."""
    task_queue = f"a11y-{uuid.uuid4()}"
    quick = with_quick_demo_timings(load_config(SHIPPED_CONFIG))
    with serving(Mailbox()) as mailbox:
        async with worker_for(temporal_env.client, sqlite_store, task_queue, mailbox.mailer):
            yield staff_driver(temporal_env.client, sqlite_store, task_queue, quick)


LINK_WORKER = Actor(staff_id="lw-001", role=Role.LINK_WORKER)
MISSED = {"attendance": "did_not_attend"}


@dataclass(frozen=True)
class Waiting:
    """Cases whose next task opens on a timer, started before the rest of the world is built."""

    in_review: str  # in link work, a contact missed: its review is open; its referral will be chased
    review: str
    ended: str  # its review ended the link work: a follow-up is to come
    heard: tuple[str, str]  # a hearing in half a minute


async def in_link_work(cases: StaffCommands) -> CaseState:
    steps = (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION)
    decision = {**OUTCOMES[TaskKind.REFERRAL_DECISION], "link_work_goals": ["housing"]}
    state = await started_case(cases, through=steps)
    return await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)


async def set_waiting(cases: StaffCommands) -> Waiting:
    in_review = await in_link_work(cases)
    in_review = await cases.complete_task(open_task(in_review, TaskKind.CONTACT), MISSED, LINK_WORKER)
    ending = await in_link_work(cases)
    ending = await cases.complete_task(open_task(ending, TaskKind.CONTACT), MISSED, LINK_WORKER)
    ended = {"decision": "end", "reason": "has not come"}
    await cases.complete_task(open_task(ending, TaskKind.DISENGAGEMENT_REVIEW), ended, LINK_WORKER)
    heard = []
    for _ in range(2):
        now = datetime.now(UTC)
        ask = RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=now + timedelta(seconds=30),
            due_at=now + timedelta(seconds=15),
            recipients=(Recipient.COURT,),
        )
        state = await started_case(cases, through=(TaskKind.CONSENT,))
        heard.append((await cases.request_court_report(state.case_id, ask)).case_id)
    return Waiting(
        in_review=in_review.case_id,
        review=open_task(in_review, TaskKind.DISENGAGEMENT_REVIEW),
        ended=ending.case_id,
        heard=(heard[0], heard[1]),
    )


async def when_due(cases: StaffCommands, waiting: Waiting) -> dict[str, str]:
    """The tasks timers open: a chase, a follow-up, a hearing's outcome; and (another hearing's, remanded
    and handed on) the RECONNECT episode's engagement once its release date is recorded."""
    ids = {
        "disengagement_review": waiting.review,
        "chase_referral": await task_opened(cases, waiting.in_review, TaskKind.CHASE_REFERRAL, 300),
        "follow_up": await task_opened(cases, waiting.ended, TaskKind.FOLLOW_UP, 300),
    }

    ids["hearing_outcome"] = await task_opened(cases, waiting.heard[0], TaskKind.HEARING_OUTCOME, 300)
    remand = {"result": HearingResult.REMAND_IN_CUSTODY, "hand_off_to_reconnect": True}
    outcome = await task_opened(cases, waiting.heard[1], TaskKind.HEARING_OUTCOME, 300)
    handed_off = await cases.complete_task(outcome, remand, PRACTITIONER)
    assert handed_off.linked_case_id is not None
    episode = handed_off.linked_case_id
    async with asyncio.timeout(60):  # the worker opens the episode a moment after the hand-off
        while not await cases.store.read_stream(episode):
            await asyncio.sleep(0.2)
    release = RecordReleaseDate(actor=PRACTITIONER, release_on=datetime.now(UK).date() + timedelta(weeks=4))
    engaging = await cases.record_release_date(episode, release)
    ids["reconnect_engagement"] = open_task(engaging, TaskKind.RECONNECT_ENGAGEMENT)
    return ids


async def a_world(cases: StaffCommands) -> dict[str, str]:
    """Cases of the demo site with a task of each kind open; their ids by name. The cases that wait on
    a timer start first; the rest of the world is built while they wait."""
    waiting = await set_waiting(cases)
    ids: dict[str, str] = {}
    steps = (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION)
    for depth, kind in enumerate((*steps, TaskKind.REFERRAL_DECISION)):
        ids[str(kind)] = open_task(await started_case(cases, through=steps[:depth]), kind)
    # Another case's decision is made: its task is a completed one, and a link worker's contact opens.
    decided = await started_case(cases, through=steps)
    ids["completed"] = open_task(decided, TaskKind.REFERRAL_DECISION)
    decision = {**OUTCOMES[TaskKind.REFERRAL_DECISION], "link_work_goals": ["housing"]}
    decided = await cases.complete_task(ids["completed"], decision, PRACTITIONER)
    ids["contact"], ids["contact_case"] = open_task(decided, TaskKind.CONTACT), decided.case_id
    # A decision with no link work: the closure task opens.
    closing = await started_case(cases, through=(*steps, TaskKind.REFERRAL_DECISION))
    ids["closure"] = open_task(closing, TaskKind.CLOSURE)
    # A court asks for a report on that case (it has consent): its task opens.
    hearing = datetime.now(UTC) + timedelta(hours=3)
    command = RequestCourtReport(
        actor=PRACTITIONER, purpose=CourtReportPurpose.BAIL_OR_REMAND, hearing_at=hearing, recipients=(Recipient.COURT,)
    )
    reported = await cases.request_court_report(closing.case_id, command)
    ids["court_report"], ids["court_report_case"] = open_task(reported, TaskKind.COURT_REPORT), reported.case_id
    ids["unverified_case"] = (await started_case(cases)).case_id
    return ids | await people_seen_before(cases) | await when_due(cases, waiting)


async def people_seen_before(cases: StaffCommands) -> dict[str, str]:
    """A person seen three times by NHS number (first at north, which pr-001 does not work at; then
    twice at demo, the first screened), and two episodes alike by name and date of birth only."""
    known = Person(name="Morwenna Achterberg", date_of_birth="1990-04-17", nhs_number="9434765919")
    await cases.start_case(with_person(open_case(reference(), site="north"), known))
    screened = await cases.start_case(with_person(open_case(reference()), known))
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING):
        screened = await cases.complete_task(open_task(screened, kind), OUTCOMES[kind], PRACTITIONER)
    again = await cases.start_case(with_person(open_case(reference()), known))
    again = await cases.complete_task(open_task(again, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    alike = Person(name="Ottoline Quarshie", date_of_birth="1971-02-03")
    await cases.start_case(with_person(open_case(reference()), alike))
    matching = await cases.start_case(with_person(open_case(reference()), alike))
    return {
        "seen_before_case": again.case_id,
        "seen_before_screening": open_task(again, TaskKind.SCREENING),
        "person_match": open_task(matching, TaskKind.PERSON_MATCH),
    }


def reference() -> str:
    return f"A11Y/{uuid.uuid4().hex[:8]}"


def with_person(command: OpenCase, person: Person) -> OpenCase:
    return command.model_copy(update={"person": person})


@pytest_asyncio.fixture(loop_scope="session")
async def pages_of(browser: Browser, live_server: LiveServer) -> AsyncIterator[Callable[[str], Awaitable[Page]]]:  # noqa: F811
    """A page per person, in its own browser context, signed in once through the dev login."""
    contexts: dict[str, BrowserContext] = {}
    pages: dict[str, Page] = {}

    async def page_of(staff_id: str) -> Page:
        if staff_id not in pages:
            contexts[staff_id] = await browser.new_context(viewport=DESKTOP)
            pages[staff_id] = await contexts[staff_id].new_page()
            if staff_id:
                await sign_in_as(pages[staff_id], live_server, staff_id)
        return pages[staff_id]

    yield page_of
    for context in contexts.values():
        await context.close()


async def sign_in_as(page: Page, server: LiveServer, staff_id: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.get_by_label(f"{staff_id}:", exact=False).check()
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(f"{server.url}/login")


async def show(page: Page, url: str, visit: Visit) -> int:
    """Open the visit's page as its person sees it; the status of the page shown."""
    if visit.download:
        answer = await page.request.get(url)
        await page.set_content(await answer.text())
        return answer.status
    response = await page.goto(url)
    assert response is not None
    if visit.act is None:
        return response.status
    async with page.expect_navigation() as navigation:
        await visit.act(page)
    after = await navigation.value
    assert after is not None
    return after.status


async def summary_focused(page: Page) -> bool | None:
    summary = page.locator(".nhsuk-error-summary")
    if not await summary.count():
        return None
    try:
        await expect(summary).to_be_focused()
    except AssertionError:
        return False
    return True


async def see(page: Page, url: str, visit: Visit) -> Seen:
    await page.set_viewport_size(DESKTOP)
    status = await show(page, url, visit)
    await page.evaluate(AXE)  # through the DevTools protocol: the pages' CSP allows no script
    violations = await page.evaluate(RUN_AXE)
    desktop_width = await page.evaluate(SCROLL_WIDTH)
    focused = await summary_focused(page)
    await page.set_viewport_size(PHONE)
    phone_width = await page.evaluate(SCROLL_WIDTH)
    return Seen(visit, status, violations, desktop_width, phone_width, focused)


@pytest.mark.timeout(900)
async def test_every_page_passes_axe_and_reflows_at_320_pixels(
    live_server: LiveServer, pages_of: Callable[[str], Awaitable[Page]]
) -> None:
    ids = await a_world(live_server.cases)
    seen = [
        await see(await pages_of(visit.staff_id), live_server.url + visit.path.format(**ids), visit) for visit in PAGES
    ]
    print("\n".join(map(str, seen)))  # the figures, for `pytest -s`
    assert not [each for each in seen if each.wrong], "\n".join(str(each) for each in seen if each.wrong)


async def test_a_failed_submit_puts_the_focus_on_the_error_summary(
    live_server: LiveServer, pages_of: Callable[[str], Awaitable[Page]]
) -> None:
    page = await pages_of("pr-001")
    await page.goto(f"{live_server.url}/cases/new")
    await page.get_by_role("button", name="Start the case").click()

    summary = page.locator(".nhsuk-error-summary")
    await expect(summary).to_contain_text("There is a problem")
    await expect(summary).to_be_focused()
    assert await page.evaluate("document.activeElement.getAttribute('aria-labelledby')") == "error-summary-title"
    await page.keyboard.press("Tab")  # the next stop is the summary's first link, to the first question
    first_link = summary.get_by_role("link").first
    await expect(first_link).to_be_focused()
