"""Driving a CaseWorkflow directly by its handle, as the time-skipping tests do (no update-with-start:
the time-skipping server does not support it)."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.workflow import UpdateMethodMultiParam

from domain.commands import Command, CompleteTask, OpenCase
from domain.config import SiteConfig
from domain.model import Actor, Role
from domain.state import CaseState
from domain.tasks import TaskKind
from tests.workflows.journey import PRACTITIONER, open_case, open_task
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseInput, CaseResult, CaseVersion

SITE = load_config(SHIPPED_CONFIG).site("demo")
# The demo site's chase task falls due 5 minutes after it opens and is escalated a minute later: at
# the very minute its referral's own escalation falls due (12 minutes after the send), a few
# milliseconds apart. Then the case's task that records the referral's escalation cancels an SLA timer
# that, on a busy machine, has fired while that task was with the worker; the time-skipping server
# refuses such a task and strands the case (temporalio/sdk-java#3088; a real server buffers the
# firing). Due after 4 minutes on this site, the chase task is escalated a minute before its referral.
CHASE_SITE = SITE.model_copy(update={"task_sla_minutes": {**SITE.task_sla_minutes, TaskKind.CHASE_REFERRAL: 4}})
LINK_WORKER = Actor(staff_id="lw-001", role=Role.LINK_WORKER)
Handle = WorkflowHandle[CaseWorkflow, CaseResult]
C = TypeVar("C", bound=Command)


def time_skipping_input(case_id: str, site: SiteConfig = SITE) -> CaseInput:
    """A case's input for the time-skipping server. Its runs never continue as new at our events limit,
    only at the server's suggestion (thousands of events): after a run has continued as new the
    time-skipping server stops skipping time, or refuses the new run's workflow task completion
    ("invalid history builder state for action"), and a test waiting on it times out. A journey comes
    near the limit, and on a busy machine (more, smaller workflow tasks) crossed it: that was the
    flaky referral test of issue 16. The limit itself is tested on the dev server
    (tests/workflows/test_continue_as_new.py)."""
    return CaseInput(case_id=case_id, site=site, run_events_limit=None)


async def start(
    env: WorkflowEnvironment, task_queue: str, opening: OpenCase | None = None, site: SiteConfig = SITE
) -> Handle:
    """A new case on `task_queue`, opened with `opening` (by default a custody case with a new reference)."""
    case_id = f"case-{uuid.uuid4()}"
    handle = await env.client.start_workflow(
        CaseWorkflow.run,
        time_skipping_input(case_id, site),
        id=case_id,
        task_queue=task_queue,
    )
    await handle.execute_update(CaseWorkflow.open_case, opening or open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
    # Not this run's handle: a long case continues as new, and commands go to its latest run (as
    # StaffCommands sends them).
    return env.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


Update = UpdateMethodMultiParam[[CaseWorkflow, C], CaseVersion]


async def changed(handle: Handle, update: Update[C], command: C) -> CaseState:
    """Send a command as its Update, then the case as the workflow now holds it (an Update answers
    with the case's version only)."""
    await handle.execute_update(update, command)
    return await handle.query(CaseWorkflow.state)


async def complete(handle: Handle, kind: TaskKind, outcome: dict[str, Any], actor: Actor = PRACTITIONER) -> CaseState:
    """Complete the case's one open task of `kind`."""
    state = await handle.query(CaseWorkflow.state)
    command = CompleteTask(actor=actor, task_id=open_task(state, kind), outcome=outcome)
    return await changed(handle, CaseWorkflow.complete_task, command)


async def until_state(handle: Handle, holds: Callable[[CaseState], object], seconds: float = 60) -> CaseState:
    """Query the case (in real time: a query does not let the time-skipping server skip) until its
    state `holds`. Before a command that must not arrive in the same workflow task as a signal the case
    is still taking in: the time-skipping server can record such a task's Update as if it came after
    the signal when the worker took it first, and the history then fails to replay."""
    async with asyncio.timeout(seconds):
        while not holds(state := await handle.query(CaseWorkflow.state)):
            await asyncio.sleep(0.05)
    return state
