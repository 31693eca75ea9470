"""A referral's chase and escalation times on the case (issue 17): the API's case response and the
web case page show when an unanswered referral will be chased and escalated, on the site's working
calendar, and the referral's workflow waits for the same times."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.model import Role
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.api.conftest import api_client, services_for, token
from tests.conftest import case_commands, worker_for
from tests.workflows.conftest import Mailbox, serving
from tests.workflows.journey import (
    BOTH_SITES_PRACTITIONER,
    OUTCOMES,
    assert_on_the_working_calendar,
    open_case,
    open_task,
    referral_sent,
)
from workflows.referral_workflow import referral_workflow_id

LONDON = ZoneInfo("Europe/London")
NORTH_PRACTITIONER = token("pr-002", Role.PRACTITIONER, ("north",))


@dataclass
class SentReferral:
    cases: StaffCommands
    state: CaseState
    referral_id: str


@pytest_asyncio.fixture(loop_scope="session")
async def north_referral(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[SentReferral]:
    """A custody case at north taken to a mental health referral, which is sent and not yet answered."""
    task_queue = f"referral-times-{uuid.uuid4()}"
    with serving(Mailbox()) as mailbox:
        async with worker_for(temporal_env.client, sqlite_store, task_queue, mailbox.mailer):
            cases = case_commands(temporal_env, sqlite_store, task_queue)
            state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}", site="north"))
            for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
                state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], BOTH_SITES_PRACTITIONER)
            decision = open_task(state, TaskKind.REFERRAL_DECISION)
            state = await cases.complete_task(decision, OUTCOMES[TaskKind.REFERRAL_DECISION], BOTH_SITES_PRACTITIONER)
            state = await referral_sent(cases, state.case_id)
            yield SentReferral(cases, state, state.referrals[0].referral_id)


async def test_the_api_case_response_shows_when_the_referral_is_chased_and_escalated(
    north_referral: SentReferral, temporal_env: WorkflowEnvironment
) -> None:
    cases, state, referral_id = north_referral.cases, north_referral.state, north_referral.referral_id
    async with api_client(create_app(services_for(cases))) as api:
        response = await api.get(f"/api/cases/{state.case_id}", headers=NORTH_PRACTITIONER)
    assert response.status_code == 200, response.text
    [times] = response.json()["referral_times"]
    sent_at = state.referrals[0].sent_at
    assert sent_at is not None
    chase_at, escalate_at = datetime.fromisoformat(times["chase_at"]), datetime.fromisoformat(times["escalate_at"])
    assert times["referral_id"] == referral_id and times["next_step"] == "chase"
    assert datetime.fromisoformat(times["sent_at"]) == sent_at
    calendar = cases.config.site("north").calendar
    assert_on_the_working_calendar(calendar, sent_at, chase_at, 2)
    assert_on_the_working_calendar(calendar, sent_at, escalate_at, 4)
    assert chase_at > datetime.now(UTC) + timedelta(days=1)  # never over a weekend's hours

    # The referral's own workflow waits for the same time (it says so, to the minute, in its details):
    # it counts from the moment it heard that the send was recorded, a fraction of a second apart.
    handle = temporal_env.client.get_workflow_handle(referral_workflow_id(state.case_id, referral_id))
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "chase referral at" in str(metadata.current_details)
    shown = {
        f"{moment:%Y-%m-%d %H:%M} UTC" for moment in (chase_at - timedelta(seconds=5), chase_at + timedelta(seconds=5))
    }
    assert any(minute in str(metadata.current_details) for minute in shown), metadata.current_details


async def test_the_web_case_page_shows_the_chase_and_escalation_times(north_referral: SentReferral) -> None:
    cases, state = north_referral.cases, north_referral.state
    async with api_client(create_app(services_for(cases))) as web:
        signed = await web.post("/login", data={"staff_id": "pr-002"})
        assert signed.status_code == 303
        page = await web.get(f"/cases/{state.case_id}")
    assert page.status_code == 200
    view = await cases.service.read_case(cases.principal(BOTH_SITES_PRACTITIONER), state.case_id)
    [times] = view.referral_times
    row = page.text.split(f'id="referral-{north_referral.referral_id}"', 1)[1].split("</tr>", 1)[0]
    chase_cell = row.split('class="nhsuk-table__cell pathway-chase-at" role="cell">', 1)[1].split("</td>", 1)[0]
    escalate_cell = row.split('class="nhsuk-table__cell pathway-escalate-at" role="cell">', 1)[1].split("</td>", 1)[0]
    assert times.chase_at.astimezone(LONDON).strftime("%a %d %b %Y, %H:%M") in chase_cell and "Next" in chase_cell
    assert times.escalate_at.astimezone(LONDON).strftime("%a %d %b %Y, %H:%M") in escalate_cell
    assert "Next" not in escalate_cell
