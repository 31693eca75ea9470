"""Sending commands to case workflows from outside (CLI, API, demo seeding) and reading the store.

Starting a case uses update-with-start on an id derived from site + external reference
(domain/identity.py): the first start creates the workflow and opens the case in one round trip;
a repeat finds the running workflow (USE_EXISTING) and its open_case handler answers with the
existing case. A closed case's workflow cannot be started again (REJECT_DUPLICATE), so a repeat
after closure answers from the event store.
"""

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.commands import (
    ClaimTask,
    CloseCase,
    CompleteTask,
    OpenCase,
    ReassignTask,
    RecordReferralOutcome,
    RequestCourtReport,
    ShareInformation,
    WithdrawConsent,
)
from domain.config import PathwayConfig, StaffMember
from domain.errors import RuleViolation
from domain.identity import case_id_for, person_id_for
from domain.model import Actor
from domain.personal import is_sealed
from domain.rules import task_to_complete
from domain.state import CaseState
from domain.tasks import parse_outcome
from store.event_store import EventStore
from store.person_keys import PersonKeys, PersonUnknown, Sealer
from workers.settings import Settings
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseInput, CaseResult

Sealable = TypeVar("Sealable", bound=BaseModel)


class CommandRejected(Exception):
    """A command the case refused, with the rule it broke; nothing was recorded."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def staff_member(config: PathwayConfig, staff_id: str) -> StaffMember:
    """A person of the staff directory in the configuration; an unknown id is a refused command."""
    try:
        return config.staff_member(staff_id)
    except RuleViolation as violation:
        raise CommandRejected(violation.rule, violation.message) from None


def actor_for(config: PathwayConfig, staff_id: str) -> Actor:
    """The actor a staff id stands for."""
    member = staff_member(config, staff_id)
    return Actor(staff_id=member.staff_id, role=member.role)


@dataclass
class CaseCommands:
    client: Client
    store: EventStore
    config: PathwayConfig
    case_id_key: bytes
    task_queue: str
    sealer: Sealer

    def actor(self, staff_id: str) -> Actor:
        return actor_for(self.config, staff_id)

    def person_of(self, case_id: str) -> str:
        return person_id_for(self.case_id_key, case_id)

    async def _sealed(self, case_id: str, command: Sealable) -> Sealable:
        """The command with its personal fields sealed under the person's key: this is where they
        leave plaintext behind for good."""
        try:
            return await self.sealer.seal(command, self.person_of(case_id), case_id)
        except PersonUnknown as shredded:
            raise CommandRejected("person_shredded", str(shredded)) from None

    async def start_case(self, command: OpenCase) -> CaseState:
        try:
            site = self.config.site(command.site)
        except RuleViolation as violation:
            raise CommandRejected(violation.rule, violation.message) from None
        born = command.person.date_of_birth
        if born is not None and not is_sealed(born) and date.fromisoformat(born) > date.today():
            raise CommandRejected("invalid_input", "the date of birth is in the future")
        case_id = case_id_for(self.case_id_key, command.site, command.external_ref)
        command = await self._sealed(case_id, command)
        start = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(case_id=case_id, site=site),
            id=case_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=case_summary(command),
            static_details=case_details(command),
        )
        try:
            return await _rejections(
                self.client.execute_update_with_start_workflow(
                    CaseWorkflow.open_case, command, start_workflow_operation=start
                )
            )
        except WorkflowAlreadyStartedError:
            return await self.store.current_state(case_id)

    async def complete_task(self, task_id: str, outcome: dict[str, Any], actor: Actor) -> CaseState:
        case_id = await self._case_of_task(task_id)
        state = await self.store.current_state(case_id)
        if not state.is_open:
            raise CommandRejected("case_not_open", f"case {case_id} is {state.stage}")
        try:  # the outcome is checked here while it is still plaintext; the workflow checks the rest
            to_complete = task_to_complete(state, task_id, actor)
            checked = parse_outcome(to_complete.kind, outcome)
        except RuleViolation as violation:
            raise CommandRejected(violation.rule, violation.message) from None
        sealed = await self._sealed(case_id, checked)
        command = CompleteTask(actor=actor, task_id=task_id, outcome=sealed.model_dump(mode="json"))
        return await self._send(case_id, self._handle(case_id).execute_update(CaseWorkflow.complete_task, command))

    async def claim_task(self, task_id: str, actor: Actor) -> CaseState:
        case_id = await self._case_of_task(task_id)
        command = ClaimTask(actor=actor, task_id=task_id)
        return await self._send(case_id, self._handle(case_id).execute_update(CaseWorkflow.claim_task, command))

    async def reassign_task(self, task_id: str, assignee: str, actor: Actor) -> CaseState:
        """Give a task to `assignee`, who must be in the staff directory and work at the task's site."""
        task = await self.store.get_task(task_id)
        if task is None:
            raise CommandRejected("task_unknown", f"there is no task {task_id}")
        member = staff_member(self.config, assignee)
        if task.site not in member.sites:
            raise CommandRejected("assignee_elsewhere", f"{assignee} does not work at site {task.site}")
        command = ReassignTask(actor=actor, task_id=task_id, assignee=member.staff_id, assignee_role=member.role)
        return await self._send(
            task.case_id, self._handle(task.case_id).execute_update(CaseWorkflow.reassign_task, command)
        )

    async def share_information(self, case_id: str, command: ShareInformation) -> CaseState:
        command = await self._sealed(case_id, command)
        return await self._send(case_id, self._handle(case_id).execute_update(CaseWorkflow.share_information, command))

    async def withdraw_consent(self, case_id: str, command: WithdrawConsent) -> CaseState:
        command = await self._sealed(case_id, command)
        return await self._send(case_id, self._handle(case_id).execute_update(CaseWorkflow.withdraw_consent, command))

    async def record_referral_outcome(self, case_id: str, command: RecordReferralOutcome) -> CaseState:
        command = await self._sealed(case_id, command)
        return await self._send(
            case_id, self._handle(case_id).execute_update(CaseWorkflow.record_referral_outcome, command)
        )

    async def request_court_report(self, case_id: str, command: RequestCourtReport) -> CaseState:
        return await self._send(
            case_id, self._handle(case_id).execute_update(CaseWorkflow.request_court_report, command)
        )

    async def close_case(self, case_id: str, command: CloseCase) -> CaseState:
        command = await self._sealed(case_id, command)
        return await self._send(case_id, self._handle(case_id).execute_update(CaseWorkflow.close_case, command))

    async def _send(self, case_id: str, call: Awaitable[CaseState]) -> CaseState:
        try:
            return await _rejections(call)
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        # No running workflow: the case is closed (its record is in the store) or never existed.
        record = await self.store.get_case(case_id)
        if record is None:
            raise CommandRejected("case_unknown", f"there is no case {case_id}")
        raise CommandRejected("case_not_open", f"case {case_id} is {record.stage}")

    async def _case_of_task(self, task_id: str) -> str:
        task = await self.store.get_task(task_id)
        if task is None:
            raise CommandRejected("task_unknown", f"there is no task {task_id}")
        return task.case_id

    def _handle(self, case_id: str) -> WorkflowHandle[CaseWorkflow, CaseResult]:
        return self.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def case_summary(command: OpenCase) -> str:
    """The case's one-line summary in the Temporal UI: coded facts only, never the person."""
    return f"L&D case at {command.site} ({command.setting})"


def case_details(command: OpenCase) -> str:
    """The case's fixed details in the Temporal UI: how it came in, as codes. The external reference
    and everything about the person are personal data and stay out."""
    cohorts = ", ".join(str(cohort) for cohort in command.cohorts) or "none"
    return "\n".join(
        [
            f"Site: {command.site}",
            f"Setting: {command.setting}",
            f"Referral source: {command.source}",
            f"Age band: {command.age_band}",
            f"Cohorts: {cohorts}",
            "Live stage, open tasks and next due time: see the current details.",
        ]
    )


def commands_for(client: Client, store: EventStore, settings: Settings) -> CaseCommands:
    """Case commands as every process builds them from its settings."""
    return CaseCommands(
        client=client,
        store=store,
        config=settings.pathway_config,
        case_id_key=settings.case_id_key,
        task_queue=settings.task_queue,
        sealer=Sealer(PersonKeys(store.engine, settings.master_key_ring)),
    )


async def _rejections(call: Awaitable[CaseState]) -> CaseState:
    """Await a workflow call, turning a refused command into CommandRejected."""
    try:
        return await call
    except WorkflowUpdateFailedError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError) and cause.type == "RuleViolation":
            rule = str(cause.details[0]) if cause.details else "rule_violation"
            raise CommandRejected(rule, cause.message) from None
        if isinstance(cause, ApplicationError):
            raise CommandRejected("invalid_command", cause.message) from None
        raise
