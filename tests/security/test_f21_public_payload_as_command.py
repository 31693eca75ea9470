"""F21: someone who can write to Temporal but has no payload keys sends a command to a case as a
payload the codec does not open: marked public (as the Temporal UI's texts are), or not encrypted at
all (which the codec reads as it is, for the histories recorded before encryption).

A marked payload is display text only, and a worker's codec marks what reaches it unencrypted: the
converter refuses either as a workflow input, so the Update is rejected before its validator runs,
nothing is recorded, and the case goes on as before."""

import uuid

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.converter import DataConverter
from temporalio.exceptions import FailureError

from domain.commands import CompleteTask
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from workers.payload_converter import PUBLIC, PUBLIC_VALUE


def keyless(client: Client) -> Client:
    """A client of the same server with no payload keys: it sends payloads as it makes them."""
    config = client.config()
    config["data_converter"] = DataConverter.default
    return Client(**config)


@pytest.mark.parametrize(
    ("marking", "why"),
    [({PUBLIC: PUBLIC_VALUE}, "is marked public"), ({}, "was not encrypted")],
    ids=["marked-public", "unencrypted"],
)
async def test_a_command_the_codec_does_not_open_is_refused_and_records_nothing(
    cases: StaffCommands, marking: dict[str, bytes], why: str
) -> None:
    state = await cases.start_case(open_case(f"F21-{uuid.uuid4().hex[:8]}"))
    command = CompleteTask(
        actor=PRACTITIONER, task_id=open_task(state, TaskKind.CONSENT), outcome=OUTCOMES[TaskKind.CONSENT]
    )
    forged = Payload(metadata={"encoding": b"json/plain", **marking}, data=command.model_dump_json().encode())
    handle = keyless(cases.client).get_workflow_handle(state.case_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("complete_task", RawValue(forged))
    # Why, as the service (which holds the keys) reads it: the converter refused the marked argument.
    cause = refused.value.cause
    assert isinstance(cause, FailureError) and cause.failure is not None
    refusal = await cases.client.data_converter.decode_failure(cause.failure)
    assert str(refusal) == "RuntimeError: Failed decoding arguments"
    assert refusal.__cause__ is not None and why in str(refusal.__cause__)
    assert len(await cases.store.read_stream(state.case_id)) == state.version
    assert (await cases.store.case_state(state.case_id)).version == state.version

    # The same command through the service (sealed and encrypted) is taken: only the marking was refused.
    after = await cases.complete_task(command.task_id, command.outcome, PRACTITIONER)
    assert after.version > state.version
