"""Status updates from FHIR receivers (docs/fhir.md): on the real stack (the Temporal dev server, a
worker as production builds it, the SQLite store) with two real FHIR receivers on localhost
(tests/fhir/receiver.py) that take the delivered transactions. Their teams accept, reject, see the
person attend or miss the appointment; each poll records what changed, in the service's own name."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.fhir_task_poll import FhirPollInput
from domain.access import service_actor
from domain.commands import CloseCase
from domain.config import PathwayConfig, Service
from domain.events import ReferralOutcomeRecorded, StoredEvent
from domain.fhir_task_updates import NO_REASON
from domain.model import Role
from domain.outcomes import ClosureOutcome, ReferralStatus, ServiceType
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.conftest import INBOX_URL, TEST_MASTER_KEYS, TEST_PAYLOAD_KEYS, staff_driver
from tests.fhir.receiver import FhirReceiver, running
from tests.fhir.validators import refuse_invalid
from tests.workers.test_metrics import sample
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.client import data_converter
from workers.metrics import exporter_text, free_loopback_address, metrics_runtime
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.fhir_task_poll_workflow import FhirPollResult, FhirTaskPollWorkflow

HOUSING, DRUGS, MENTAL_HEALTH = "city-housing-fhir", "city-drugs-fhir", "city-mental-health-fhir"
S = ReferralStatus


def fhir_service(service_id: str, kind: ServiceType, address: str) -> Service:
    return Service(
        service_id=service_id, name=f"FHIR {kind}", type=kind, sites=("demo",), delivery="fhir", address=address
    )


def config_with(*services: Service) -> PathwayConfig:
    shipped = load_config(SHIPPED_CONFIG)
    return PathwayConfig.model_validate({**shipped.model_dump(), "services": [*shipped.services, *services]})


@dataclass
class Stack:
    client: Client
    cases: StaffCommands
    store: EventStore
    task_queue: str
    east: FhirReceiver  # housing and drug services
    west: FhirReceiver  # the mental health service

    async def poll(self) -> tuple[str, FhirPollResult]:
        """One poll, as the schedule starts it; its workflow id and result."""
        workflow_id = f"fhir-poll-{uuid.uuid4()}"
        result = await self.client.execute_workflow(
            FhirTaskPollWorkflow.run, FhirPollInput(started_by="test"), id=workflow_id, task_queue=self.task_queue
        )
        return workflow_id, result

    async def outcomes(self, case_id: str) -> list[StoredEvent]:
        return [e for e in await self.store.read_stream(case_id) if isinstance(e.event, ReferralOutcomeRecorded)]


@pytest.fixture
def receivers() -> Iterator[tuple[FhirReceiver, FhirReceiver]]:
    with ExitStack() as stack:
        east = stack.enter_context(running(FhirReceiver(refuse_invalid)))
        west = stack.enter_context(running(FhirReceiver(refuse_invalid, base_path="/baseR4")))
        yield east, west


@asynccontextmanager
async def fhir_stack(
    client: Client, store: EventStore, receivers: tuple[FhirReceiver, FhirReceiver]
) -> AsyncIterator[Stack]:
    """A worker as production builds it, with three FHIR services at the two receivers, and staff."""
    east, west = receivers
    config = config_with(
        fhir_service(HOUSING, ServiceType.HOUSING, east.url),
        fhir_service(DRUGS, ServiceType.SUBSTANCE_MISUSE, east.url),
        fhir_service(MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, west.url),
    )
    task_queue = f"fhir-poll-{uuid.uuid4()}"
    async with build_worker(client, store, task_queue, config, None, INBOX_URL, TEST_MASTER_KEYS):
        cases = staff_driver(client, store, task_queue, config)
        yield Stack(client, cases, store, task_queue, east, west)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, receivers: tuple[FhirReceiver, FhirReceiver]
) -> AsyncIterator[Stack]:
    async with fhir_stack(temporal_env.client, sqlite_store, receivers) as built:
        yield built


async def referred(stack: Stack, *referrals: tuple[str, ServiceType, str]) -> tuple[str, list[str]]:
    """A case through to its referral decision, referring to each (service id, type, reason); once
    every referral is delivered (the receivers hold their Tasks): the case id and the referral ids."""
    cases = stack.cases
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)
    decision = {
        "referrals": [
            {"service": str(kind), "service_id": service_id, "reason": reason} for service_id, kind, reason in referrals
        ]
    }
    state = await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)
    state = await all_sent(stack.store, state.case_id)
    by_service = {r.request.service_id: r.referral_id for r in state.referrals}
    return state.case_id, [by_service[service_id] for service_id, _, _ in referrals]


async def all_sent(store: EventStore, case_id: str) -> CaseState:
    for _ in range(400):
        state = await store.current_state(case_id)
        if state.referrals and all(r.status is S.SENT for r in state.referrals):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the referrals were not delivered")


def statuses(events: list[StoredEvent]) -> list[tuple[str, S, str]]:
    """(referral id, status, actor) of each outcome event."""
    found = []
    for stored in events:
        assert isinstance(stored.event, ReferralOutcomeRecorded)
        found.append((stored.event.referral_id, stored.event.status, stored.actor.staff_id))
    return found


async def test_the_receivers_answers_become_the_referrals_lifecycle(stack: Stack) -> None:
    east, west = stack.east, stack.west
    case_id, [housing, drugs, mental_health] = await referred(
        stack,
        (HOUSING, ServiceType.HOUSING, "sleeping rough"),
        (DRUGS, ServiceType.SUBSTANCE_MISUSE, "daily heroin use"),
        (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "hears voices"),
    )
    # Each receiver took its transactions: a Task per referral, as Pathway sent it.
    assert east.task(housing)["status"] == west.task(mental_health)["status"] == "requested"
    assert len(east.transactions) == 2 and len(west.transactions) == 1

    # Nothing has changed yet: a poll asks, and records nothing.
    _, nothing = await stack.poll()
    assert sorted((p.service_id, p.asked, p.recorded, p.problems) for p in nothing.services) == [
        (DRUGS, 1, 0, []),
        (HOUSING, 1, 0, []),
        (MENTAL_HEALTH, 1, 0, []),
    ]
    assert await stack.outcomes(case_id) == []

    # The housing team accepts: recorded in the housing service's name, by the system.
    east.set_task(housing, "accepted")
    workflow_id, first = await stack.poll()
    [accepted] = await stack.outcomes(case_id)
    assert statuses([accepted]) == [(housing, S.ACCEPTED, f"service:{HOUSING}")]
    assert accepted.actor == service_actor(HOUSING) and accepted.actor.role is Role.SYSTEM
    assert sum(p.recorded for p in first.services) == 1
    if RECORDING:
        history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / "fhir_task_poll_workflow_accepted.json").write_text(history.to_json() + "\n")

    # The person came to the first appointment; the mental health team rejects with its reason; the
    # drug service's Task says the person missed it, straight from requested (two steps: accepted,
    # then did not attend).
    east.set_task(housing, "in-progress")
    west.set_task(mental_health, "rejected", reason="Not in our catchment: refer to the county team")
    east.set_task(drugs, "on-hold", business_status="did_not_attend")
    await stack.poll()
    assert sorted(statuses((await stack.outcomes(case_id))[1:])) == sorted(
        [
            (housing, S.ATTENDED, f"service:{HOUSING}"),
            (mental_health, S.REJECTED, f"service:{MENTAL_HEALTH}"),
            (drugs, S.ACCEPTED, f"service:{DRUGS}"),
            (drugs, S.DID_NOT_ATTEND, f"service:{DRUGS}"),
        ]
    )
    state = await stack.cases.opened(await stack.store.current_state(case_id), case_id)
    by_id = {r.referral_id: r for r in state.referrals}
    assert (by_id[housing].status, by_id[drugs].status) == (S.ATTENDED, S.DID_NOT_ATTEND)
    assert by_id[mental_health].status is S.REJECTED
    assert by_id[mental_health].reason == "Not in our catchment: refer to the county team"
    # The reason is sealed with the person's key in the record, like any reason a person writes.
    [rejected] = [e for e in await stack.outcomes(case_id) if e.event.status is S.REJECTED]  # type: ignore[union-attr]
    assert rejected.event.reason.startswith("sealed:v1:")  # type: ignore[union-attr]

    # The same Tasks again: nothing new.
    before = len(await stack.store.read_stream(case_id))
    _, again = await stack.poll()
    assert len(await stack.store.read_stream(case_id)) == before
    assert all(p.recorded == 0 and p.problems == [] for p in again.services)
    # The rejected referral is no longer asked about; the others still are.
    assert {p.service_id: p.asked for p in again.services} == {HOUSING: 1, DRUGS: 1}


async def test_a_rejection_without_a_reason_says_so(stack: Stack) -> None:
    case_id, [mental_health] = await referred(stack, (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "low mood"))
    stack.west.set_task(mental_health, "cancelled")
    await stack.poll()
    state = await stack.cases.opened(await stack.store.current_state(case_id), case_id)
    [referral] = state.referrals
    assert (referral.status, referral.reason) == (S.REJECTED, NO_REASON)


async def test_a_receiver_that_is_down_does_not_stop_the_others(stack: Stack) -> None:
    case_id, [housing, mental_health] = await referred(
        stack, (HOUSING, ServiceType.HOUSING, "evicted"), (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "anxiety")
    )
    stack.east.set_task(housing, "accepted")
    stack.west.set_task(mental_health, "accepted")
    stack.west.stop()

    _, result = await stack.poll()

    polls = {p.service_id: p for p in result.services}
    assert (polls[HOUSING].recorded, polls[HOUSING].problems) == (1, [])
    assert polls[MENTAL_HEALTH].recorded == 0
    assert [(p.kind, p.referral_id) for p in polls[MENTAL_HEALTH].problems] == [("unreachable", None)]
    assert statuses(await stack.outcomes(case_id)) == [(housing, S.ACCEPTED, f"service:{HOUSING}")]


async def test_two_polls_at_once_record_each_change_once(stack: Stack) -> None:
    case_id, [housing, drugs] = await referred(
        stack, (HOUSING, ServiceType.HOUSING, "sofa surfing"), (DRUGS, ServiceType.SUBSTANCE_MISUSE, "alcohol")
    )
    stack.east.set_task(housing, "completed", business_status="engaged")  # three steps from sent
    stack.east.set_task(drugs, "accepted")

    await asyncio.gather(stack.poll(), stack.poll(), stack.poll())

    assert sorted(statuses(await stack.outcomes(case_id))) == sorted(
        [
            (housing, S.ACCEPTED, f"service:{HOUSING}"),
            (housing, S.ATTENDED, f"service:{HOUSING}"),
            (housing, S.ENGAGED, f"service:{HOUSING}"),
            (drugs, S.ACCEPTED, f"service:{DRUGS}"),
        ]
    )
    steps = [e.event.status for e in await stack.outcomes(case_id) if e.event.referral_id == housing]  # type: ignore[union-attr]
    assert steps == [S.ACCEPTED, S.ATTENDED, S.ENGAGED]


async def test_a_closed_case_is_not_asked_about(stack: Stack) -> None:
    case_id, [housing] = await referred(stack, (HOUSING, ServiceType.HOUSING, "hostel place"))
    closure = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    await stack.cases.close_case(case_id, CloseCase(actor=PRACTITIONER, outcome=closure))
    stack.east.set_task(housing, "accepted")

    _, result = await stack.poll()

    assert result.services == [] and stack.east.reads == []
    assert await stack.outcomes(case_id) == []


async def test_garbage_and_codes_not_taken_are_reported_and_asked_again(stack: Stack) -> None:
    case_id, [housing, drugs, mental_health] = await referred(
        stack,
        (HOUSING, ServiceType.HOUSING, "no fixed abode"),
        (DRUGS, ServiceType.SUBSTANCE_MISUSE, "crack cocaine"),
        (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "paranoia"),
    )
    stack.west.answer_for[mental_health] = [{"resourceType": "Task", "status": "accepted"}]  # no intent: not FHIR
    stack.east.set_task(housing, "entered-in-error")
    stack.east.set_task(drugs, "accepted")

    _, result = await stack.poll()

    problems = {(p.service_id, q.kind, q.referral_id) for p in result.services for q in p.problems}
    assert problems == {(MENTAL_HEALTH, "bad_answer", mental_health), (HOUSING, "unknown_code", housing)}
    assert statuses(await stack.outcomes(case_id)) == [(drugs, S.ACCEPTED, f"service:{DRUGS}")]

    # Put right on the receivers' side, the next poll takes them in.
    stack.west.answer_for.clear()
    stack.west.set_task(mental_health, "accepted")
    stack.east.set_task(housing, "accepted")
    await stack.poll()
    assert {(r, s) for r, s, _ in statuses(await stack.outcomes(case_id))} == {
        (drugs, S.ACCEPTED),
        (mental_health, S.ACCEPTED),
        (housing, S.ACCEPTED),
    }


async def test_what_is_not_taken_is_counted_by_kind(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, receivers: tuple[FhirReceiver, FhirReceiver]
) -> None:
    exporter = free_loopback_address()
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
        runtime=metrics_runtime(exporter),
    )
    async with fhir_stack(client, sqlite_store, receivers) as metered:
        _, [housing, mental_health] = await referred(
            metered, (HOUSING, ServiceType.HOUSING, "rent arrears"), (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "ptsd")
        )
        metered.east.set_task(housing, "draft")
        metered.west.answer_for[mental_health] = [{"resourceType": "Patient", "id": "not-a-task"}]
        await metered.poll()
        await metered.poll()
        text = await exporter_text(exporter)

    assert sample(text, "pathway_fhir_task_updates_not_taken_total", kind="unknown_code") == 2
    assert sample(text, "pathway_fhir_task_updates_not_taken_total", kind="bad_answer") == 2
    assert housing not in text and "draft" not in text  # labels are kinds only
