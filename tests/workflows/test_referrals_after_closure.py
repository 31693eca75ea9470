"""Issue 16: a case that closes while its referral is being sent still records what became of the send.

The standard journey closes right after the referral decision, so the send can still be under way:
here the test's SMTP server or HTTP receiver holds its answer until the case has closed. Closure
stops the chasing, not the send: the attempt under way ends (sent, or refused), or, if none has got
the referral through yet, one last attempt is made; the case records the outcome after CaseClosed and
only then ends its run, opening nothing (no chase task, reminder or escalation). On the real dev
server, through the service as staff use it.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, Envelope, Session
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.config import PathwayConfig
from domain.data_return import REFERRAL_FIELDS, Month, episodes_for, pseudonym_key, referrals_for, rows
from domain.events import StoredEvent
from domain.model import Stage
from domain.outcomes import ReferralStatus
from domain.reporting import Period
from domain.state import CaseState, fold
from domain.tasks import TaskKind
from service.fhir import fhir_export
from service.staff import StaffCommands
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.conftest import INBOX_URL, TEST_MASTER_KEYS, staff_driver
from tests.workers.test_fhir import of_type
from tests.workflows.conftest import Mailbox, serving
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, TEAM_LEAD, complete, open_case, open_task
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.case_workflow import CaseWorkflow
from workflows.referral_workflow import ReferralWorkflow, referral_workflow_id

HELD_FOR = 30  # seconds at most: the SMTP client and the HTTP POST each give up after 30 s
# Events that chase, remind or escalate: none may follow CaseClosed.
AFTER_CLOSURE_NEVER = {
    "TaskOpened",
    "TaskScheduled",
    "ReferralChased",
    "ReferralEscalated",
    "ReminderSent",
    "TaskEscalated",
}


@dataclass
class HeldMailbox(Mailbox):
    """The service's SMTP server: it refuses the first `refuse_first` messages for now (451: try
    again later), and holds its answer to the others until the test lets it go."""

    refuse_first: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    let_go: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.arrived.set()
        if self.refuse_first:
            self.refuse_first -= 1
            return "451 4.3.0 Try again later"
        async with asyncio.timeout(HELD_FOR):
            while not self.let_go.is_set():
                await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class HeldReceiver:
    """An HTTP receiver that takes a POST, then holds its answer (`status`) until the test lets it go."""

    status: int
    port: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    let_go: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/referrals"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.set()
                receiver.let_go.wait(HELD_FOR)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def held_mailbox() -> Iterator[HeldMailbox]:
    with serving(HeldMailbox()) as box:
        yield box
        box.let_go.set()  # before the server stops: it would wait for a held answer


@pytest.fixture
def refusing_receiver() -> Iterator[HeldReceiver]:
    """Answers 400 (the service refuses the referral: not worth trying again), once let go."""
    receiver = HeldReceiver(status=400)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield receiver
    receiver.let_go.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def with_http_housing(url: str) -> PathwayConfig:
    """The shipped configuration with the demo housing service reached by HTTP POST at `url`."""
    config = load_config(SHIPPED_CONFIG)
    services = tuple(
        s.model_copy(update={"delivery": "http", "address": url}) if s.service_id == "demo-housing" else s
        for s in config.services
    )
    sites = {
        site_id: site.model_copy(update={"services": tuple(s for s in services if site_id in s.sites)})
        for site_id, site in config.sites.items()
    }
    return config.model_copy(update={"services": services, "sites": sites})


@pytest_asyncio.fixture(loop_scope="session")
async def mailing_cases(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, held_mailbox: HeldMailbox
) -> AsyncIterator[StaffCommands]:
    """Staff working on cases whose worker sends email to the held SMTP server."""
    task_queue = f"closing-{uuid.uuid4()}"
    config = load_config(SHIPPED_CONFIG)
    async with build_worker(
        temporal_env.client, sqlite_store, task_queue, config, held_mailbox.mailer, INBOX_URL, TEST_MASTER_KEYS
    ):
        yield staff_driver(temporal_env.client, sqlite_store, task_queue, config)


@pytest_asyncio.fixture(loop_scope="session")
async def posting_cases(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, refusing_receiver: HeldReceiver
) -> AsyncIterator[StaffCommands]:
    """Staff working on cases whose housing referrals go by HTTP to the held, refusing receiver."""
    task_queue = f"closing-http-{uuid.uuid4()}"
    config = with_http_housing(refusing_receiver.url)
    async with build_worker(temporal_env.client, sqlite_store, task_queue, config, None, INBOX_URL, TEST_MASTER_KEYS):
        yield staff_driver(temporal_env.client, sqlite_store, task_queue, config)


async def to_referral_decision(cases: StaffCommands, decision: dict[str, Any] | None = None) -> CaseState:
    """A new case through the standard journey up to its closure task, its referral decision `decision`."""
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    for kind in JOURNEY[:-2]:
        state = await complete(cases, state, kind)
    outcome = decision or OUTCOMES[TaskKind.REFERRAL_DECISION]
    state = await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), outcome, PRACTITIONER)
    open_task(state, TaskKind.CLOSURE)
    return state


async def close_while_held(cases: StaffCommands, state: CaseState, arrived: threading.Event) -> CaseState:
    """Close the case once the referral's send has reached the receiver, which holds its answer."""
    async with asyncio.timeout(HELD_FOR):
        while not arrived.is_set():
            await asyncio.sleep(0.05)
    closed = await complete(cases, state, TaskKind.CLOSURE)
    assert closed.stage is Stage.CLOSED
    [referral] = closed.referrals
    assert referral.status is ReferralStatus.DRAFTED and referral.send_failed is None  # not known yet
    return closed


async def ended(cases: StaffCommands, case_id: str) -> list[StoredEvent]:
    """The case's run ends once the send is recorded; its stored stream, checked whole."""
    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, case_id)
    async with asyncio.timeout(HELD_FOR):
        assert (await handle.result()).close_reason == "pathway_complete"
    stored = await cases.store.read_stream(case_id)
    assert (await cases.store.verify_chain(case_id)).ok
    assert await cases.store.projection_differences(case_id) == []
    return stored


def after_closure(stored: list[StoredEvent]) -> list[str]:
    types: list[str] = [e.event.type for e in stored]
    assert types.count("CaseClosed") == 1
    after = types[types.index("CaseClosed") + 1 :]
    assert not AFTER_CLOSURE_NEVER & set(after), after
    return after


async def referral_history(cases: StaffCommands, case_id: str, referral_id: str) -> list[EventType.ValueType]:
    handle = cases.client.get_workflow_handle_for(ReferralWorkflow.run, referral_workflow_id(case_id, referral_id))
    result = await handle.result()
    assert not result.chased and not result.escalated
    return [e.event_type for e in (await handle.fetch_history()).events]


async def record_history(cases: StaffCommands, workflow_id: str, name: str) -> None:
    """Keep the workflow's history as a golden one (only when PATHWAY_RECORD_HISTORIES=1)."""
    if RECORDING:
        history = await cases.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / name).write_text(history.to_json() + "\n")


async def test_a_referral_sent_while_the_case_closes_is_recorded_as_sent(
    mailing_cases: StaffCommands, held_mailbox: HeldMailbox
) -> None:
    cases = mailing_cases
    state = await to_referral_decision(cases)
    closed = await close_while_held(cases, state, held_mailbox.arrived)
    [referral] = closed.referrals

    held_mailbox.let_go.set()  # the service's mail server takes the referral, after the closure
    stored = await ended(cases, closed.case_id)

    assert after_closure(stored) == ["ReferralSent"]
    final = fold(closed.case_id, stored)
    assert closed.closed_at is not None and final.closed_at == closed.closed_at
    assert final.stage is Stage.CLOSED and final.open_tasks == []
    [sent] = final.referrals
    assert sent.status is ReferralStatus.SENT and sent.sent_at is not None and sent.sent_at > closed.closed_at
    record = await cases.store.get_case(closed.case_id)
    assert record is not None and record.stage == Stage.CLOSED  # the projection stays closed too
    # Closure asked for the send to be called off; the attempt under way finished and was recorded.
    history = await referral_history(cases, closed.case_id, referral.referral_id)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in history
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in history
    assert EventType.EVENT_TYPE_TIMER_FIRED not in history  # no chase or escalation time came

    # The FHIR export shows the referral as the service has it: requested (delivered, unanswered),
    # the request still active.
    bundle = await fhir_export(cases.service, cases.principal(PRACTITIONER), closed.case_id)
    [episode], [request], [task] = (of_type(bundle, kind) for kind in (EpisodeOfCare, ServiceRequest, Task))
    assert (episode.status, request.status, task.status) == ("finished", "active", "requested")
    assert task.businessStatus.coding[0].code == "sent"

    # Nobody was reminded or told of an escalation: the only message is the referral itself.
    notifications = await NotificationLog(cases.store.engine).list(case_id=closed.case_id)
    assert [(n.kind, n.status) for n in notifications] == [("referral_email", "sent")]
    assert [m["To"] for m in held_mailbox.messages] == ["cmht@services.pathway.test"]

    # The reports count it as made and sent, as any other.
    day = closed.closed_at.date()
    period = Period(first_day=day - timedelta(days=1), last_day=day + timedelta(days=1))
    report = await cases.pathway.reports.report(cases.principal(TEAM_LEAD), period, "demo")
    assert report.totals.counts["referrals"] == 1
    month = Month(sent.sent_at.year, sent.sent_at.month)
    streams = await cases.pathway.reports.data_return_streams(cases.principal(TEAM_LEAD), "demo")
    table = rows(REFERRAL_FIELDS, referrals_for(episodes_for(streams.streams, month, pseudonym_key(b"k"))))
    [row] = [dict(zip(table[0], values, strict=True)) for values in table[1:]]
    assert row["status"] == "sent" and row["sent_date"] != ""

    await record_history(cases, closed.case_id, "case_workflow_sent_after_closure.json")
    referral_id = referral_workflow_id(closed.case_id, referral.referral_id)
    await record_history(cases, referral_id, "referral_workflow_sent_after_closure.json")


async def test_a_referral_refused_after_the_case_closed_is_recorded_without_a_chase(
    posting_cases: StaffCommands, refusing_receiver: HeldReceiver
) -> None:
    cases = posting_cases
    housing = {"referrals": [{"service": "housing", "reason": "no fixed abode"}]}
    state = await to_referral_decision(cases, housing)
    closed = await close_while_held(cases, state, refusing_receiver.arrived)

    refusing_receiver.let_go.set()  # the service answers 400: it will not take the referral
    stored = await ended(cases, closed.case_id)

    # On an open case a refusal opens an urgent chase task; on a closed one it is only recorded.
    assert after_closure(stored) == ["ReferralSendFailed"]
    [failed] = fold(closed.case_id, stored).referrals
    assert failed.status is ReferralStatus.DRAFTED and "HTTP 400" in (failed.send_failed or "")
    bundle = await fhir_export(cases.service, cases.principal(PRACTITIONER), closed.case_id)
    [task] = of_type(bundle, Task)
    assert task.status == "draft" and "not delivered" in task.statusReason.text  # the service never got it


async def test_a_referral_not_yet_through_gets_a_last_try_at_closure_and_is_recorded_as_sent(
    mailing_cases: StaffCommands, held_mailbox: HeldMailbox
) -> None:
    """The service's mail server turned the first attempt away for now (451): the next attempt waits
    (5 s) when the case closes. Closure calls the waiting off and tries once more at once."""
    cases = mailing_cases
    held_mailbox.refuse_first = 1
    held_mailbox.let_go.set()
    state = await to_referral_decision(cases)
    async with asyncio.timeout(HELD_FOR):
        while not held_mailbox.arrived.is_set():  # the first attempt, turned away
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    closed = await complete(cases, state, TaskKind.CLOSURE)
    [referral] = closed.referrals

    stored = await ended(cases, closed.case_id)

    assert after_closure(stored) == ["ReferralSent"]
    assert fold(closed.case_id, stored).referrals[0].status is ReferralStatus.SENT
    history = await referral_history(cases, closed.case_id, referral.referral_id)
    assert history.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 2  # the send, then the last try
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED in history  # the waiting, called off
    assert [m["To"] for m in held_mailbox.messages] == ["cmht@services.pathway.test"]
    referral_id = referral_workflow_id(closed.case_id, referral.referral_id)
    await record_history(cases, referral_id, "referral_workflow_last_try_sent.json")


async def test_a_referral_that_cannot_go_out_is_left_unsent_and_the_case_ends(cases: StaffCommands) -> None:
    """No SMTP server at all: every attempt fails. At closure the last try fails too, nothing is
    recorded after CaseClosed (the referral stays drafted: it was never sent), and the case's run ends
    at once rather than waiting."""
    state = await to_referral_decision(cases)
    await asyncio.sleep(0.5)  # the first attempt has failed by now
    closed = await complete(cases, state, TaskKind.CLOSURE)
    [referral] = closed.referrals

    stored = await ended(cases, closed.case_id)

    assert after_closure(stored) == []
    assert fold(closed.case_id, stored).referrals[0].status is ReferralStatus.DRAFTED
    history = await referral_history(cases, closed.case_id, referral.referral_id)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED not in history
    assert history.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 2  # the send, then the last try
    notifications = await NotificationLog(cases.store.engine).list(case_id=closed.case_id)
    assert [n.kind for n in notifications] == ["referral_email"] and notifications[0].status != "sent"
    referral_id = referral_workflow_id(closed.case_id, referral.referral_id)
    await record_history(cases, referral_id, "referral_workflow_last_try_failed.json")
