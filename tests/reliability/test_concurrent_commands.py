"""Commands racing on one case from separate clients: the workflow serialises them, exactly one of
two conflicting commands wins, the loser is refused with the rule it broke, and the stream stays whole."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.errors import RuleViolation
from domain.model import Actor, Role
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.conftest import TEST_PAYLOAD_KEYS, case_commands, worker_for
from tests.reliability.support import assert_stream_whole
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, complete, open_case, open_task
from workers.client import data_converter

CLIENTS = 5
SECOND_PRACTITIONER = Actor(staff_id="pr-002", role=Role.PRACTITIONER)
# Different valid outcomes, each enough for the rest of the journey (sharing with the court needs share_court).
CONSENT_SCOPES = [
    ["assessment", "share_court"],
    ["assessment", "share_court", "share_police"],
    ["assessment", "share_court", "share_defence"],
    ["share_court", "assessment", "share_police", "share_defence"],
    ["assessment", "share_court", "share_police", "share_defence"],
]


@pytest_asyncio.fixture(loop_scope="session")
async def clients(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[list[StaffCommands]]:
    """CLIENTS case-command sets, each on its own Temporal client connection, one worker behind them."""
    task_queue = f"concurrent-{uuid.uuid4()}"
    base = case_commands(temporal_env, sqlite_store, task_queue)
    config = temporal_env.client.service_client.config
    connections = [
        await Client.connect(
            config.target_host,
            namespace=temporal_env.client.namespace,
            data_converter=data_converter(TEST_PAYLOAD_KEYS),
        )
        for _ in range(CLIENTS)
    ]
    async with worker_for(temporal_env.client, sqlite_store, task_queue):
        yield [dataclasses.replace(base, client=connection) for connection in connections]


def outcomes(results: list[Any]) -> tuple[list[CaseState], list[RuleViolation]]:
    won = [r for r in results if isinstance(r, CaseState)]
    lost = [r for r in results if isinstance(r, RuleViolation)]
    unexpected = [r for r in results if not isinstance(r, CaseState | RuleViolation)]
    assert not unexpected, unexpected
    return won, lost


async def finish(cases: StaffCommands, store: EventStore, case_id: str) -> None:
    """The rest of the standard journey, from what the store says is open."""
    state = await store.case_state(case_id)
    for kind in JOURNEY:
        if any(task.kind is kind for task in state.open_tasks):
            state = await complete(cases, state, kind)
    assert not state.is_open


async def test_the_same_task_completed_by_several_clients_at_once(
    clients: list[StaffCommands], sqlite_store: EventStore
) -> None:
    async with asyncio.timeout(90):
        state = await clients[0].start_case(open_case("RACE-COMPLETE"))
        consent = open_task(state, TaskKind.CONSENT)
        results = await asyncio.gather(
            *(
                cases.complete_task(consent, {"decision": "given", "scope": scope}, PRACTITIONER)
                for cases, scope in zip(clients, CONSENT_SCOPES, strict=True)
            ),
            return_exceptions=True,
        )
        won, lost = outcomes(results)
        assert len(won) == 1 and len(lost) == CLIENTS - 1, results
        assert {rejection.rule for rejection in lost} == {"task_not_open"}, [(r.rule, r.message) for r in lost]

        events = await sqlite_store.read_stream(state.case_id)
        completed = [e for e in events if e.event.type == "TaskCompleted"]
        assert [getattr(e.event, "task_id", None) for e in completed] == [consent]
        assert (await sqlite_store.verify_chain(state.case_id)).ok
        assert await sqlite_store.projection_differences(state.case_id) == []

        await finish(clients[0], sqlite_store, state.case_id)
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=len(JOURNEY))


async def test_claim_and_complete_of_one_task_at_once_are_serialised(
    clients: list[StaffCommands], sqlite_store: EventStore
) -> None:
    async with asyncio.timeout(90):
        state = await clients[0].start_case(open_case("RACE-CLAIM"))
        state = await complete(clients[0], state, TaskKind.CONSENT)
        screening = open_task(state, TaskKind.SCREENING)
        claim, completion = await asyncio.gather(
            clients[1].claim_task(screening, SECOND_PRACTITIONER),
            clients[2].complete_task(screening, OUTCOMES[TaskKind.SCREENING], PRACTITIONER),
            return_exceptions=True,
        )
        won, lost = outcomes([claim, completion])
        assert len(won) == 1 and len(lost) == 1, (claim, completion)
        rejection = lost[0]
        if isinstance(claim, CaseState):  # the claim came first: the task is pr-002's now
            assert rejection.rule == "task_assigned_to_other", rejection.message
        else:
            assert rejection.rule == "task_not_open", rejection.message

        events = await sqlite_store.read_stream(state.case_id)
        types = [(e.event.type, getattr(e.event, "task_id", None)) for e in events]
        assert types.count(("TaskCompleted", screening)) == (0 if isinstance(claim, CaseState) else 1), types
        assert types.count(("TaskClaimed", screening)) == (1 if isinstance(claim, CaseState) else 0), types
        assert (await sqlite_store.verify_chain(state.case_id)).ok
        assert await sqlite_store.projection_differences(state.case_id) == []

        if isinstance(claim, CaseState):
            await clients[1].complete_task(screening, OUTCOMES[TaskKind.SCREENING], SECOND_PRACTITIONER)
        await finish(clients[0], sqlite_store, state.case_id)
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=len(JOURNEY))


async def start_at_once(clients: list[StaffCommands], store: EventStore, ref: str) -> list[RuleViolation]:
    """Every client starts the same referral at once: one case, one CaseOpened, the stream whole.
    Returns the starts that were refused (each must be case_already_open)."""
    async with asyncio.timeout(90):
        results = await asyncio.gather(*(cases.start_case(open_case(ref)) for cases in clients), return_exceptions=True)
        started, refused = outcomes(results)
        assert started, results
        case_ids = {state.case_id for state in started}
        assert len(case_ids) == 1, case_ids
        (case_id,) = case_ids
        assert all(state.is_open for state in started)
        assert {rejection.rule for rejection in refused} <= {"case_already_open"}, [r.message for r in refused]
        assert await store.case_ids() == [case_id]
        events = await store.read_stream(case_id)
        assert [e.event.type for e in events].count("CaseOpened") == 1
        await finish(clients[0], store, case_id)
    await assert_stream_whole(store, case_id, task_completions=len(JOURNEY))
    return refused


async def test_the_same_case_started_by_several_clients_at_once(
    clients: list[StaffCommands], sqlite_store: EventStore
) -> None:
    await start_at_once(clients, sqlite_store, "RACE-START")


async def test_every_concurrent_start_answers_with_the_case(
    clients: list[StaffCommands], sqlite_store: EventStore
) -> None:
    refused = await start_at_once(clients, sqlite_store, "RACE-START-ALL")
    assert refused == [], [r.message for r in refused]
