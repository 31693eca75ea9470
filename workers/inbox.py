"""The inbox: what a signed-in person may see and do, for the API, the web pages and the CLI alike.

Every call takes the Principal (who, role, sites) and checks the role x action matrix
(domain/access.py) and the site scope before anything happens; every read or change of a case
that succeeds is written to the access log. Out-of-scope cases and tasks look exactly like absent
ones, so nothing about another site leaks. The case workflow then applies the pathway rules.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from activities.mailer import SmtpMailer
from domain.access import Action, Principal, allowed, require_allowed
from domain.commands import (
    CloseCase,
    OpenCase,
    RecordReferralOutcome,
    RequestCourtReport,
    ShareInformation,
    WithdrawConsent,
)
from domain.config import PathwayConfig, StaffMember
from domain.errors import RuleViolation
from domain.events import StoredEvent
from domain.identity import case_id_for
from domain.model import Role
from domain.state import CaseState
from domain.timeline import UK
from store.access_log import AccessLog, AccessRecord
from store.notifications import NotificationLog
from store.records import CaseRecord, TaskRecord
from workers.alerts import alert_break_glass
from workers.cases import CaseCommands

Opened = TypeVar("Opened", bound=BaseModel)
TaskView = Literal["mine", "team", "unassigned", "overdue", "due_today"]
TASK_VIEWS: dict[TaskView, str] = {
    "mine": "My tasks",
    "team": "My team's tasks",
    "unassigned": "Unassigned",
    "overdue": "Overdue",
    "due_today": "Due today",
}
PRIORITY_ORDER = {"emergency": 0, "urgent": 1, "routine": 2}

CaseChange = ShareInformation | WithdrawConsent | RecordReferralOutcome | RequestCourtReport | CloseCase
CHANGE_ACTIONS: dict[type[CaseChange], Action] = {
    ShareInformation: Action.SHARE_INFORMATION,
    WithdrawConsent: Action.WITHDRAW_CONSENT,
    RecordReferralOutcome: Action.RECORD_REFERRAL_OUTCOME,
    RequestCourtReport: Action.REQUEST_COURT_REPORT,
    CloseCase: Action.CLOSE_CASE,
}


class CaseView(BaseModel):
    state: CaseState
    timeline: list[StoredEvent]


class TaskDetail(BaseModel):
    task: TaskRecord
    case: CaseState
    assignees: list[StaffMember]  # who at the task's site could take it over


def principal_for(config: PathwayConfig, staff_id: str) -> Principal:
    """The principal of a person in the staff directory (the CLI's `--as`); unknown ids are refused."""
    member = config.staff_member(staff_id)
    return Principal(staff_id=member.staff_id, role=member.role, sites=member.sites)


@dataclass
class Inbox:
    commands: CaseCommands
    access: AccessLog
    outbox: NotificationLog
    mailer: SmtpMailer | None = None
    inbox_url: str = "http://localhost:8000"

    async def tasks(self, principal: Principal, view: TaskView = "team", today: date | None = None) -> list[TaskRecord]:
        """Open tasks of the person's sites in one view, overdue first, then by priority and due time."""
        require_allowed(principal.actor, Action.LIST_TASKS)
        today = today or datetime.now(UK).date()
        tasks = [t for site in principal.sites for t in await self.commands.store.list_tasks(site=site)]
        chosen = [t for t in tasks if _in_view(t, view, principal, today)]
        return sorted(chosen, key=lambda t: (not t.overdue, PRIORITY_ORDER.get(t.priority, 9), t.due_at))

    async def task(self, principal: Principal, task_id: str) -> TaskDetail:
        """One task of the person's sites (any status) with its case; recorded as a read of the case."""
        require_allowed(principal.actor, Action.LIST_TASKS)
        task = await self._task_in_scope(principal, task_id)
        roles = tuple(Role(role) for role in task.candidate_roles)
        detail = TaskDetail(
            task=task,
            case=await self.opened(await self.commands.store.current_state(task.case_id)),
            assignees=list(self.commands.config.staff_at(task.site, roles)),
        )
        await self.record_access(principal, task.case_id, "read_task", "work on a task")
        return detail

    async def claim(self, principal: Principal, task_id: str) -> CaseState:
        require_allowed(principal.actor, Action.CLAIM_TASK)
        task = await self._task_in_scope(principal, task_id)
        state = await self.commands.claim_task(task_id, principal.actor)
        await self.record_access(principal, task.case_id, "claim_task", "work on a task")
        return await self.opened(state)

    async def reassign(self, principal: Principal, task_id: str, assignee: str) -> CaseState:
        require_allowed(principal.actor, Action.REASSIGN_TASK)
        task = await self._task_in_scope(principal, task_id)
        state = await self.commands.reassign_task(task_id, assignee, principal.actor)
        await self.record_access(principal, task.case_id, "reassign_task", "team work")
        return await self.opened(state)

    async def complete(self, principal: Principal, task_id: str, outcome: dict[str, Any]) -> CaseState:
        """Record a task's outcome; the case moves on and its new state is the answer."""
        require_allowed(principal.actor, Action.COMPLETE_TASK)
        task = await self._task_in_scope(principal, task_id)
        state = await self.commands.complete_task(task_id, outcome, principal.actor)
        await self.record_access(principal, task.case_id, "complete_task", "work on a task")
        return await self.opened(state)

    async def start_case(self, principal: Principal, command: OpenCase) -> CaseState:
        require_allowed(principal.actor, Action.START_CASE)
        if command.actor != principal.actor:
            raise RuleViolation("invalid_command", "a case is opened in your own name")
        if not principal.covers(command.site):
            raise RuleViolation("outside_your_sites", f"you do not work at site {command.site}")
        state = await self.commands.start_case(command)
        await self.record_access(principal, state.case_id, "start_case", "identification")
        return await self.opened(state)

    async def change_case(self, principal: Principal, case_id: str, command: CaseChange) -> CaseState:
        """A change to a case that is not a task: sharing, consent withdrawal, referral outcome, court
        report request, closure."""
        action = CHANGE_ACTIONS[type(command)]
        require_allowed(principal.actor, action)
        if command.actor != principal.actor:
            raise RuleViolation("invalid_command", "a change to a case is made in your own name")
        await self.case_in_scope(principal, case_id)
        state = await self._send(case_id, command)
        await self.record_access(principal, case_id, str(action), "case work")
        return await self.opened(state)

    async def find_case(
        self, principal: Principal, site: str, ref: str, break_glass_reason: str | None = None
    ) -> CaseView:
        """A case by its site and custody or court reference."""
        case_id = case_id_for(self.commands.case_id_key, site, ref)
        return await self.read_case(principal, case_id, break_glass_reason)

    async def read_case(self, principal: Principal, case_id: str, break_glass_reason: str | None = None) -> CaseView:
        """A case's state and timeline. Outside the person's sites only with a stated reason, which
        is recorded and alerts the site's team leads."""
        require_allowed(principal.actor, Action.READ_CASE)
        record = await self.commands.store.get_case(case_id)
        in_scope = record is not None and principal.covers(record.site)
        may_break_glass = break_glass_reason is not None and allowed(principal.role, Action.BREAK_GLASS)
        if record is None or not (in_scope or may_break_glass):
            raise RuleViolation("case_unknown", f"there is no case {case_id} in your sites")
        if in_scope:
            await self.record_access(principal, case_id, "read_case", "case work")
        else:
            await self.record_access(
                principal, case_id, "read_case", f"break-glass: {break_glass_reason}", break_glass=True
            )
            await alert_break_glass(
                self.outbox, self.mailer, self.commands.config, self.inbox_url, case_id, record.site, principal
            )
        view = CaseView(
            state=await self.commands.store.current_state(case_id),
            timeline=await self.commands.store.read_stream(case_id),
        )
        return await self.opened(view)

    async def cases(self, principal: Principal, stage: str | None = None) -> list[CaseRecord]:
        """The case index of the person's sites (at one stage, if given), oldest first."""
        require_allowed(principal.actor, Action.READ_CASE)
        found = [c for site in principal.sites for c in await self.commands.store.list_cases(site=site, stage=stage)]
        return sorted(found, key=lambda c: (c.opened_at, c.case_id))

    async def case_access(self, principal: Principal, case_id: str) -> list[AccessRecord]:
        """Who read or changed a case, when and why (auditors)."""
        require_allowed(principal.actor, Action.READ_ACCESS_LOG)
        await self.case_in_scope(principal, case_id)
        await self.record_access(principal, case_id, "read_access_log", "audit")
        return await self.access.list(case_id)

    async def case_in_scope(self, principal: Principal, case_id: str) -> CaseRecord:
        record = await self.commands.store.get_case(case_id)
        if record is None or not principal.covers(record.site):
            raise RuleViolation("case_unknown", f"there is no case {case_id} in your sites")
        return record

    async def _send(self, case_id: str, command: CaseChange) -> CaseState:
        commands = self.commands
        match command:
            case ShareInformation():
                return await commands.share_information(case_id, command)
            case WithdrawConsent():
                return await commands.withdraw_consent(case_id, command)
            case RecordReferralOutcome():
                return await commands.record_referral_outcome(case_id, command)
            case RequestCourtReport():
                return await commands.request_court_report(case_id, command)
            case CloseCase():
                return await commands.close_case(case_id, command)

    async def opened(self, model: Opened) -> Opened:
        """What a person reads: personal fields opened with the person's key ("[shredded]" once gone)."""
        return await self.commands.sealer.open(model)

    async def _task_in_scope(self, principal: Principal, task_id: str) -> TaskRecord:
        task = await self.commands.store.get_task(task_id)
        if task is None or not principal.covers(task.site):
            raise RuleViolation("task_unknown", f"there is no task {task_id} in your sites")
        return task

    async def record_access(
        self, principal: Principal, case_id: str, action: str, purpose: str, break_glass: bool = False
    ) -> None:
        await self.access.record(case_id, principal.staff_id, principal.role, action, purpose, break_glass)


def _in_view(task: TaskRecord, view: TaskView, principal: Principal, today: date) -> bool:
    match view:
        case "mine":
            return task.assignee == principal.staff_id
        case "unassigned":
            return task.assignee is None
        case "overdue":
            return task.overdue
        case "due_today":
            return task.due_at.astimezone(UK).date() == today
    return True
