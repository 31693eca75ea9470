"""Issue 18, link workers' and practitioners' work on the web inbox: each person's task list holds the
tasks their role can do; a case in a list shows its person's initials and reference to those who may
read it (never in a URL or a log line); the case page's forms do what the CLI does, with the same
rules; a contact offers only the goals its link work set."""

import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.commands import CloseCase, OpenCase
from domain.model import Person, Role
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.state import CaseState
from domain.tasks import TaskKind
from domain.timeline import UK
from service.staff import StaffCommands
from store.access_log import AccessLog
from store.event_store import EventStore
from tests.api.conftest import api_client, services_for, token
from tests.api.test_web import signed_in
from tests.conftest import case_commands, worker_for
from tests.workflows.conftest import Mailbox, serving
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task, referral_sent, task_opened

BEFORE_LINK_WORK = (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION)
GOALS = ["housing", "debt"]


def reference() -> str:
    return f"WEB/{uuid.uuid4().hex[:8]}"


async def through(cases: StaffCommands, state: CaseState, kinds: tuple[TaskKind, ...]) -> CaseState:
    for kind in kinds:
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)
    return state


async def in_link_work(cases: StaffCommands, ref: str | None = None) -> CaseState:
    """A case whose referral decision made a referral and set link work goals: open, in support."""
    state = await through(cases, await cases.start_case(open_case(ref or reference())), BEFORE_LINK_WORK)
    decision = {**OUTCOMES[TaskKind.REFERRAL_DECISION], "link_work_goals": GOALS}
    return await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)


# 1. Each person's tasks are the ones their role can do


async def test_a_link_worker_lists_only_the_tasks_a_link_worker_does(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    consent = open_task(await cases.start_case(open_case(reference())), TaskKind.CONSENT)
    contact = open_task(await in_link_work(cases), TaskKind.CONTACT)

    await signed_in(api, "lw-001")
    for view in ("team", "unassigned", "due_today"):
        inbox = (await api.get(f"/inbox?view={view}")).text
        assert f'data-task-id="{contact}"' in inbox and f'data-task-id="{consent}"' not in inbox, view
    listed = await api.get("/api/tasks", headers=token("lw-001", Role.LINK_WORKER))
    assert listed.status_code == 200
    ids = {task["task_id"] for task in listed.json()}
    assert contact in ids and consent not in ids

    # A practitioner does consent, not contacts; a team lead oversees both.
    practitioner = {t["task_id"] for t in (await api.get("/api/tasks", headers=token("pr-001"))).json()}
    assert consent in practitioner and contact not in practitioner
    lead = {t["task_id"] for t in (await api.get("/api/tasks", headers=token("tl-001"))).json()}
    assert {consent, contact} <= lead
    await signed_in(api, "tl-001")
    inbox = (await api.get("/inbox?view=team")).text
    assert f'data-task-id="{contact}"' in inbox and f'data-task-id="{consent}"' in inbox


# 2. Human handles


async def test_a_case_in_a_list_shows_its_person_to_readers_and_never_in_a_url_or_a_log(
    api: httpx.AsyncClient,
    cases: StaffCommands,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref = reference()
    opening = open_case(ref).model_copy(update={"person": Person(name="Sam Quill Example")})
    state = await cases.start_case(OpenCase.model_validate(opening.model_dump()))
    handle = f"SQE · {ref}"
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logged:
        csrf = await signed_in(api, "pr-001")
        inbox = await api.get("/inbox?view=unassigned")
        index = await api.get("/cases")
        found = await api.post("/cases/find", data={"csrf": csrf, "site": "demo", "ref": ref})
        case_page = await api.get(found.headers["location"])
    assert handle in inbox.text and handle in index.text
    assert found.status_code == 303 and found.headers["location"] == f"/cases/{state.case_id}"
    assert '<span id="case-handle">Sam Quill Example · ' + ref in case_page.text
    assert "Sam Quill" not in case_page.text.split("</title>")[0]  # the browser's history keeps titles

    for page in (inbox, index, case_page):
        links = re.findall(r'(?:href|action)="([^"]*)"', page.text)
        assert links and not [link for link in links if ref in link or "Sam" in link or "SQE" in link]
    everything_logged = repr(logged) + caplog.text
    for secret in (ref, "Sam Quill Example", "SQE"):
        assert secret not in everything_logged

    # Each list that opened the handle (the inbox signing in lands on, the unassigned view, the case
    # index) is a recorded read, apart from opening the case (found, then shown).
    reads = [(r.staff_id, r.action) for r in await AccessLog(cases.store.engine).list(state.case_id)]
    assert reads.count(("pr-001", "read_handle")) == 3 and reads.count(("pr-001", "read_case")) == 2

    # Another site's staff are never shown it, and nothing is recorded for them.
    await signed_in(api, "lw-002")
    assert ref not in (await api.get("/cases")).text and ref not in (await api.get("/inbox?view=team")).text
    assert [r for r in await AccessLog(cases.store.engine).list(state.case_id) if r.staff_id == "lw-002"] == []


async def test_a_shredded_persons_case_lists_as_shredded(
    api: httpx.AsyncClient,
    cases: StaffCommands,
) -> None:
    state = await cases.start_case(open_case(reference()))
    error = ClosureOutcome(reason=ClosureReason.RECORD_MADE_IN_ERROR)
    await cases.close_case(state.case_id, CloseCase(actor=PRACTITIONER, outcome=error))
    admin = cases.principal(cases.actor("ad-001"))
    await cases.pathway.people.shred(admin, state.case_id, "entered for the wrong person")
    await signed_in(api, "pr-001")
    index = await api.get("/cases")
    row = re.search(rf'<a href="/cases/{state.case_id}"[^>]*>(.*?)</a>', index.text)
    assert row is not None and "[shredded]" in row.group(1)


# 3. The case page's forms


@dataclass
class SentReferralCase:
    web: httpx.AsyncClient
    cases: StaffCommands
    state: CaseState


@pytest_asyncio.fixture(loop_scope="session")
async def sent_referral(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[SentReferralCase]:
    """A case in link work whose referral has been sent (by a worker with a mail server)."""
    task_queue = f"web-forms-{uuid.uuid4()}"
    with serving(Mailbox()) as mailbox:
        async with worker_for(temporal_env.client, sqlite_store, task_queue, mailbox.mailer):
            cases = case_commands(temporal_env, sqlite_store, task_queue)
            state = await referral_sent(cases, (await in_link_work(cases)).case_id)
            async with api_client(create_app(services_for(cases))) as client:
                yield SentReferralCase(client, cases, state)


async def test_a_referrals_outcome_from_the_case_page(sent_referral: SentReferralCase) -> None:
    web, cases, state = sent_referral.web, sent_referral.cases, sent_referral.state
    referral_id = state.referrals[0].referral_id
    csrf = await signed_in(web, "lw-001")
    page = await web.get(f"/cases/{state.case_id}")
    assert 'action="/cases/' + state.case_id + '/referral-outcome"' in page.text
    assert 'class="nhsuk-table__cell pathway-chase-at" role="cell">' in page.text  # the chase and escalation times
    assert 'action="/cases/' + state.case_id + '/close"' not in page.text  # a link worker does not close

    url = f"/cases/{state.case_id}/referral-outcome"
    rejected = {"csrf": csrf, "referral_id": referral_id, "status": "rejected", "reason": ""}
    refused = await web.post(url, data=rejected)
    assert refused.status_code == 409
    assert "There is a problem" in refused.text and 'id="reason-error"' in refused.text
    assert (await cases.store.case_state(state.case_id)).version == state.version

    missing = await web.post(url, data={"csrf": csrf, "referral_id": referral_id})
    assert missing.status_code == 422 and "Choose status" in missing.text
    assert (await cases.store.case_state(state.case_id)).version == state.version

    done = await web.post(url, data={"csrf": csrf, "referral_id": referral_id, "status": "accepted"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/cases/{state.case_id}?notice=")
    assert (await cases.store.case_state(state.case_id)).referrals[0].status == "accepted"


async def test_closing_from_the_case_page_keeps_the_closure_gate(sent_referral: SentReferralCase) -> None:
    web, cases, state = sent_referral.web, sent_referral.cases, sent_referral.state
    version = (await cases.store.case_state(state.case_id)).version
    url = f"/cases/{state.case_id}/close"

    csrf = await signed_in(web, "lw-001")
    forbidden = await web.post(url, data={"csrf": csrf, "outcome.reason": "transferred"})
    assert forbidden.status_code == 403 and "A link_worker cannot close a case" in forbidden.text

    csrf = await signed_in(web, "pr-001")
    unchosen = await web.post(url, data={"csrf": csrf, "outcome.note": "moving away"})
    assert unchosen.status_code == 422 and 'id="outcome-reason-error"' in unchosen.text
    assert 'value="" selected' not in unchosen.text and "moving away</textarea>" in unchosen.text
    gated = await web.post(url, data={"csrf": csrf, "outcome.reason": "transferred"})
    assert gated.status_code == 409 and "The case cannot close yet" in gated.text
    assert (await cases.store.case_state(state.case_id)).version == version

    other_site = await signed_in(web, "lw-002")
    hidden = await web.post(url, data={"csrf": other_site, "outcome.reason": "transferred"})
    assert hidden.status_code == 404
    assert (await cases.store.case_state(state.case_id)).version == version


async def test_a_practitioner_closes_a_case_from_its_page(
    api: httpx.AsyncClient,
    cases: StaffCommands,
) -> None:
    state = await cases.start_case(open_case(reference()))
    csrf = await signed_in(api, "pr-001")
    form = {"csrf": csrf, "outcome.reason": "released_before_contact", "outcome.justice_outcome": "no_further_action"}
    closed = await api.post(f"/cases/{state.case_id}/close", data=form)
    assert closed.status_code == 303
    after = await cases.store.case_state(state.case_id)
    assert (after.stage, after.close_reason) == ("closed", "released_before_contact")
    page = await api.get(closed.headers["location"])
    assert "Case closed" in page.text and 'action="/cases/' + state.case_id + '/close"' not in page.text


def uk_form_time(moment: datetime) -> str:
    return moment.astimezone(UK).strftime("%Y-%m-%dT%H:%M:%S")


async def test_a_court_report_and_its_hearings_outcome_from_the_case_page(
    api: httpx.AsyncClient,
    cases: StaffCommands,
) -> None:
    state = await through(cases, await cases.start_case(open_case(reference())), (TaskKind.CONSENT,))
    csrf = await signed_in(api, "pr-001")
    url = f"/cases/{state.case_id}/court-report"
    past = datetime.now(UK) - timedelta(hours=1)
    late = {"csrf": csrf, "purpose": "bail_or_remand", "hearing_at": uk_form_time(past), "recipients": "court"}
    refused = await api.post(url, data=late)
    assert refused.status_code == 409 and 'id="hearing_at-error"' in refused.text and "has passed" in refused.text
    nobody = await api.post(url, data={**late, "recipients": []})
    assert nobody.status_code == 422 and 'id="recipients-error"' in nobody.text and "Choose recipients" in nobody.text
    assert (await cases.store.case_state(state.case_id)).court_reports == ()

    # A hearing soon, so that its outcome task opens during the test.
    now = datetime.now(UK)
    hearing = {**late, "hearing_at": uk_form_time(now + timedelta(seconds=20))}
    hearing["due_at"] = uk_form_time(now + timedelta(seconds=10))
    asked = await api.post(url, data=hearing)
    assert asked.status_code == 303
    [report] = (await cases.store.case_state(state.case_id)).court_reports
    assert (report.purpose, report.recipients) == ("bail_or_remand", ("court",))

    outcome_url = f"/cases/{state.case_id}/hearing-outcome"
    task_id = await task_opened(cases, state.case_id, TaskKind.HEARING_OUTCOME)
    page = await api.get(f"/cases/{state.case_id}")
    assert f'value="{task_id}"' in page.text and 'action="' + outcome_url + '"' in page.text
    adjourned = await api.post(outcome_url, data={"csrf": csrf, "task_id": task_id, "result": "adjourned"})
    assert adjourned.status_code == 422 and "An adjourned hearing needs the time of the next hearing" in adjourned.text
    other = await cases.start_case(open_case(reference()))
    bail = {"csrf": csrf, "task_id": task_id, "result": "bail"}
    elsewhere = await api.post(f"/cases/{other.case_id}/hearing-outcome", data=bail)
    assert elsewhere.status_code == 404 and f"has no task {task_id}" in elsewhere.text  # not this case's task
    unchosen = await api.post(outcome_url, data={"csrf": csrf, "result": "bail"})
    assert unchosen.status_code == 422 and 'id="task_id-error"' in unchosen.text
    assert (await cases.store.case_state(state.case_id)).court_reports[0].hearing_result is None

    bailed = await api.post(outcome_url, data=bail)
    assert bailed.status_code == 303
    assert (await cases.store.case_state(state.case_id)).court_reports[0].hearing_result == "bail"


async def test_what_a_case_learns_is_recorded_from_its_page(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    """A justice outcome and a cohort, each refused with its reason beside the question (the case
    unchanged), then recorded; a release date only on a RECONNECT episode; and the date of birth, whose
    form shows while the age is not verified."""
    state = await cases.start_case(open_case(reference()))
    csrf = await signed_in(api, "pr-001")
    page = await api.get(f"/cases/{state.case_id}")
    for slug in ("justice-outcome", "cohort", "date-of-birth"):
        assert f'action="/cases/{state.case_id}/{slug}"' in page.text, slug
    assert "/release-date" not in page.text and "Expected version" not in page.text

    async def version() -> int:
        return (await cases.store.case_state(state.case_id)).version

    before = await version()
    url = f"/cases/{state.case_id}"
    unchosen = await api.post(f"{url}/justice-outcome", data={"csrf": csrf, "outcome": ""})
    assert unchosen.status_code == 422 and 'id="outcome-error"' in unchosen.text
    reasonless = {"csrf": csrf, "cohort": "veteran", "member": "true", "reason": ""}
    refused = await api.post(f"{url}/cohort", data=reasonless)
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    off_already = await api.post(f"{url}/cohort", data={**reasonless, "member": "false", "reason": "not one"})
    assert off_already.status_code == 409 and 'id="member-error"' in off_already.text
    unborn = await api.post(f"{url}/date-of-birth", data={"csrf": csrf, "date_of_birth": "2090-01-01"})
    assert unborn.status_code == 422 and "date of birth" in unborn.text.lower()
    released = await api.post(f"{url}/release-date", data={"csrf": csrf, "release_on": "2027-03-01"})
    assert released.status_code == 409 and "is not a RECONNECT episode" in released.text
    assert await version() == before

    charged = await api.post(f"{url}/justice-outcome", data={"csrf": csrf, "outcome": "charged_bailed"})
    assert charged.status_code == 303
    again = await api.post(f"{url}/justice-outcome", data={"csrf": csrf, "outcome": "charged_bailed"})
    assert again.status_code == 409 and 'id="outcome-error"' in again.text
    veteran = await api.post(f"{url}/cohort", data={**reasonless, "reason": "served in the army"})
    assert veteran.status_code == 303
    born = await api.post(f"{url}/date-of-birth", data={"csrf": csrf, "date_of_birth": "1990-05-01"})
    assert born.status_code == 303
    after = await cases.store.case_state(state.case_id)
    assert (after.justice_outcome, after.cohorts, after.age_verified) == ("charged_bailed", ("veteran",), True)
    page = await api.get(born.headers["location"])
    assert "Date of birth recorded" in page.text


# 4. A contact offers the goals its link work set


async def test_a_contact_offers_and_takes_only_the_goals_its_link_work_set(
    api: httpx.AsyncClient,
    cases: StaffCommands,
) -> None:
    state = await in_link_work(cases)
    task_id = open_task(state, TaskKind.CONTACT)
    csrf = await signed_in(api, "lw-001")
    page = await api.get(f"/tasks/{task_id}")
    offered = re.findall(r'name="goals_progressed" type="checkbox" value="([a-z_]+)"', page.text)
    assert offered == GOALS

    url = f"/tasks/{task_id}/complete"
    forged = {"csrf": csrf, "attendance": "attended", "goals_progressed": ["housing", "employment"]}
    refused = await api.post(url, data=forged)
    assert refused.status_code == 422 and "not employment" in refused.text
    assert (await cases.store.case_state(state.case_id)).version == state.version

    done = await api.post(url, data={**forged, "goals_progressed": ["debt"]})
    assert done.status_code == 303
    after = await cases.store.case_state(state.case_id)
    assert after.support is not None and after.support.goals_progressed == ("debt",)
