"""The case gateway: how the service reaches a case's workflow and reads the store, with no rules of
its own (who may, what they see and what is recorded are the service's; the pathway rules are the
domain's, run by the workflow).

Starting a case uses update-with-start on its id: the first start creates the workflow and opens
the case in one round trip; a repeat finds the running workflow (USE_EXISTING) and its open_case
handler answers with the existing case. A closed case's workflow cannot be started again
(REJECT_DUPLICATE), so a repeat after closure answers from the event store.

An Update answers with the case's version only; the state given back is read from the store, which
the workflow's append has written before the Update answers (`current_state` folds only the events
new since it last folded the case).

A command whose workflow task failed before the workflow took it (the worker stalled past the SDK's
deadlock timeout under load, or died mid-task) comes back from the server as "workflow not ready":
nothing was recorded, so it is refused as `case_catching_up`, which the service tries again.
"""

import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure, WorkflowNotReadyFailure
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.commands import (
    ChangeCohort,
    ClaimTask,
    CloseCase,
    CompleteTask,
    LinkPerson,
    OpenCase,
    ReassignTask,
    RecordDateOfBirth,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
    ShareInformation,
    UnlinkPerson,
    WithdrawConsent,
)
from domain.config import SiteConfig
from domain.errors import Rule, RuleViolation
from domain.events import StoredEvent
from domain.state import CaseState
from store.event_store import EventStore
from store.records import CaseRecord, TaskRecord
from workflows.alert_start import start_break_glass_alert
from workflows.case_workflow import CaseWorkflow
from workflows.messages import BreakGlassAlert, CaseInput, CaseResult, CaseVersion
from workflows.ui_text import PublicText

# A command a person sends to an open case (OpenCase starts one).
CaseCommand = (
    CompleteTask
    | ClaimTask
    | ReassignTask
    | ShareInformation
    | WithdrawConsent
    | RecordReferralOutcome
    | RequestCourtReport
    | CloseCase
    | RecordDateOfBirth
    | ChangeCohort
    | RecordJusticeOutcome
    | RecordReleaseDate
    | LinkPerson
    | UnlinkPerson
)


class CaseGateway(Protocol):
    """What the service needs of Temporal and the store."""

    store: EventStore

    async def start(
        self, case_id: str, site: SiteConfig, command: OpenCase, summary: PublicText, details: PublicText
    ) -> CaseState:
        """Open the case (or find it, for the same referral again)."""
        ...

    async def send(self, case_id: str, command: CaseCommand) -> CaseState:
        """Send a command to an open case; the case's new state (or a later one, if another command
        followed at once)."""
        ...

    async def alert(self, alert: BreakGlassAlert) -> None:
        """Have the worker tell a site's team leads of a break-glass read."""
        ...

    async def case(self, case_id: str) -> CaseRecord | None: ...

    async def task(self, task_id: str) -> TaskRecord | None: ...

    async def cases(self, site: str, stage: str | None = None) -> list[CaseRecord]: ...

    async def tasks(self, site: str) -> list[TaskRecord]: ...

    async def state(self, case_id: str) -> CaseState:
        """The case as of its last stored event."""
        ...

    async def events(self, case_id: str) -> list[StoredEvent]: ...


@dataclass
class TemporalCaseGateway:
    client: Client
    store: EventStore
    task_queue: str

    async def start(
        self, case_id: str, site: SiteConfig, command: OpenCase, summary: PublicText, details: PublicText
    ) -> CaseState:
        start = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(case_id=case_id, site=site),
            id=case_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary,
            static_details=details,
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):  # closed: its record is in the store
            await with_rule_violations(
                self.client.execute_update_with_start_workflow(
                    CaseWorkflow.open_case, command, start_workflow_operation=start
                )
            )
        return await self.store.current_state(case_id)

    async def send(self, case_id: str, command: CaseCommand) -> CaseState:
        handle: WorkflowHandle[CaseWorkflow, CaseResult] = self.client.get_workflow_handle_for(
            CaseWorkflow.run, case_id
        )
        try:
            await with_rule_violations(_update(handle, command))
            return await self.store.current_state(case_id)
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        # No running workflow: the case is closed (its record is in the store) or never existed.
        record = await self.store.get_case(case_id)
        if record is None:
            raise RuleViolation(Rule.CASE_UNKNOWN, f"there is no case {case_id}")
        raise RuleViolation(Rule.CASE_NOT_OPEN, f"case {case_id} is {record.stage}")

    async def alert(self, alert: BreakGlassAlert) -> None:
        await start_break_glass_alert(self.client, self.task_queue, alert)

    async def case(self, case_id: str) -> CaseRecord | None:
        return await self.store.get_case(case_id)

    async def task(self, task_id: str) -> TaskRecord | None:
        return await self.store.get_task(task_id)

    async def cases(self, site: str, stage: str | None = None) -> list[CaseRecord]:
        return await self.store.list_cases(site=site, stage=stage)

    async def tasks(self, site: str) -> list[TaskRecord]:
        return await self.store.list_tasks(site=site)

    async def state(self, case_id: str) -> CaseState:
        return await self.store.current_state(case_id)

    async def events(self, case_id: str) -> list[StoredEvent]:
        return await self.store.read_stream(case_id)


async def _update(handle: WorkflowHandle[CaseWorkflow, CaseResult], command: CaseCommand) -> CaseVersion:
    """The command as its Update."""
    match command:
        case CompleteTask():
            return await handle.execute_update(CaseWorkflow.complete_task, command)
        case ClaimTask():
            return await handle.execute_update(CaseWorkflow.claim_task, command)
        case ReassignTask():
            return await handle.execute_update(CaseWorkflow.reassign_task, command)
        case ShareInformation():
            return await handle.execute_update(CaseWorkflow.share_information, command)
        case WithdrawConsent():
            return await handle.execute_update(CaseWorkflow.withdraw_consent, command)
        case RecordReferralOutcome():
            return await handle.execute_update(CaseWorkflow.record_referral_outcome, command)
        case RequestCourtReport():
            return await handle.execute_update(CaseWorkflow.request_court_report, command)
        case CloseCase():
            return await handle.execute_update(CaseWorkflow.close_case, command)
        case RecordDateOfBirth():
            return await handle.execute_update(CaseWorkflow.record_date_of_birth, command)
        case ChangeCohort():
            return await handle.execute_update(CaseWorkflow.change_cohort, command)
        case RecordJusticeOutcome():
            return await handle.execute_update(CaseWorkflow.record_justice_outcome, command)
        case RecordReleaseDate():
            return await handle.execute_update(CaseWorkflow.record_release_date, command)
        case LinkPerson():
            return await handle.execute_update(CaseWorkflow.link_person, command)
        case UnlinkPerson():
            return await handle.execute_update(CaseWorkflow.unlink_person, command)


async def with_rule_violations(call: Awaitable[CaseVersion]) -> CaseVersion:
    """Await a workflow call, turning a refused command into the RuleViolation it was, and one the
    workflow never took (its task failed first) into "try again"."""
    try:
        return await call
    except RPCError as error:
        if not _workflow_not_ready(error):
            raise
        raise RuleViolation(
            Rule.CASE_CATCHING_UP, "the case's worker failed before it took the change: try again in a moment"
        ) from None
    except WorkflowUpdateFailedError as failure:
        cause = failure.cause
        if not isinstance(cause, ApplicationError):
            raise
        named = Rule.named(str(cause.details[0])) if cause.details else None
        if cause.type == "RuleViolation" and named is not None:
            raise RuleViolation(named, cause.message) from None
        # A refusal without a rule we know: the command itself did not decode or validate.
        raise RuleViolation(Rule.INVALID_COMMAND, cause.message) from None


def _workflow_not_ready(error: RPCError) -> bool:
    """Whether the server dropped the Update because the workflow task failed, before acceptance
    (an update-with-start reports it inside the failure of its operations)."""
    details = list(error.grpc_status.details)
    operations = MultiOperationExecutionFailure()
    if details and details[0].Unpack(operations):
        details = [detail for status in operations.statuses for detail in status.details]
    return error.status is RPCStatusCode.FAILED_PRECONDITION and any(
        detail.Is(WorkflowNotReadyFailure.DESCRIPTOR) for detail in details
    )
