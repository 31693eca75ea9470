"""Cases and tasks: what a signed-in person may read and do, for the API, the web pages, the CLI and
the demo seed alike.

Each call does the service's four steps in order: it takes the Principal the directory gave (who),
checks the role x action matrix and the site scope (may they: out-of-scope cases and tasks look
exactly like absent ones), seals what comes in and opens what goes out for the case's own person
(sealing), and records the access (a read here; a change by the workflow, in the same transaction
as its events). The case workflow then applies the pathway rules.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import structlog
from pydantic import BaseModel
from temporalio.service import RPCError

from domain.access import Action, Principal, allowed, break_glass_reason, may_work_on, require_allowed
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
from domain.config import PathwayConfig, StaffMember
from domain.errors import Rule, RuleViolation
from domain.events import StoredEvent
from domain.identity import case_id_for, person_id_for
from domain.model import Role
from domain.personal import SHREDDED, UNREADABLE, WITHHELD, Personal, PersonalStr
from domain.plaintext import check_change, check_date_of_birth, check_opening, checked_outcome
from domain.reconnect import refuse_after_sentence
from domain.referral_times import ReferralTimes, case_referral_times
from domain.state import CaseState
from domain.timeline import UK
from service.gateway import CaseCommand, CaseGateway
from service.person_matching import PersonMatcher
from store.access_log import AccessLog, AccessRecord
from store.person_keys import PersonUnknown
from store.records import CaseRecord, TaskRecord
from store.sealing import Sealer
from workflows.messages import BreakGlassAlert
from workflows.ui_text import case_details, case_summary

log = structlog.get_logger(__name__)
# How long a command is tried again while its case catches up (an HTTP request should not wait longer;
# the answer then says to try again), and the first wait between tries, doubled each time. A try under
# way is never cut short: whatever it may yet record must not be lost to the person's own next try.
CATCHING_UP_SECONDS = 4.0
FIRST_CATCHING_UP_WAIT = 0.25

Readable = TypeVar("Readable", bound=BaseModel)
TaskView = Literal["mine", "team", "unassigned", "overdue", "due_today"]
TASK_VIEWS: dict[TaskView, str] = {
    "mine": "My tasks",
    "team": "My team's tasks",
    "unassigned": "Unassigned",
    "overdue": "Overdue",
    "due_today": "Due today",
}
PRIORITY_ORDER = {"emergency": 0, "urgent": 1, "routine": 2}
UNOPENED = (SHREDDED, WITHHELD, UNREADABLE)  # what a sealed value reads as when it cannot be opened

CaseChange = (
    ShareInformation
    | WithdrawConsent
    | RecordReferralOutcome
    | RequestCourtReport
    | CloseCase
    | ChangeCohort
    | RecordJusticeOutcome
    | RecordReleaseDate
    | LinkPerson
    | UnlinkPerson
)
CHANGE_ACTIONS: dict[type[CaseChange], Action] = {
    RecordReleaseDate: Action.RECORD_RELEASE_DATE,
    LinkPerson: Action.LINK_PERSON,
    UnlinkPerson: Action.LINK_PERSON,
    RecordJusticeOutcome: Action.RECORD_JUSTICE_OUTCOME,
    ChangeCohort: Action.CHANGE_COHORT,
    ShareInformation: Action.SHARE_INFORMATION,
    WithdrawConsent: Action.WITHDRAW_CONSENT,
    RecordReferralOutcome: Action.RECORD_REFERRAL_OUTCOME,
    RequestCourtReport: Action.REQUEST_COURT_REPORT,
    CloseCase: Action.CLOSE_CASE,
}


class CaseView(BaseModel):
    state: CaseState
    timeline: list[StoredEvent]
    # When each sent referral is chased and escalated if unanswered: what the referral's workflow
    # waits for, computed the same way (domain/referral_times.py) from the site's configuration.
    referral_times: list[ReferralTimes] = []


class TaskDetail(BaseModel):
    task: TaskRecord
    case: CaseState
    assignees: list[StaffMember]  # who at the task's site could take it over


class AccessEntry(BaseModel):
    """An access record as its reader sees it: a purpose that quotes what someone wrote (a break-glass
    reason, an export's purpose) is sealed with the person's key, so it goes when they are shredded."""

    access_id: str
    case_id: str
    staff_id: str
    role: str
    action: str
    purpose: PersonalStr
    break_glass: bool
    at: datetime


class _AccessLogView(BaseModel):
    entries: list[AccessEntry]  # opened together: one key lookup for the whole log


@dataclass
class CaseService:
    gateway: CaseGateway
    config: PathwayConfig
    case_id_key: bytes
    sealer: Sealer
    access: AccessLog
    matcher: PersonMatcher
    today: Callable[[], date] = lambda: datetime.now(UK).date()  # the UK day (tests fix it)

    # Reads

    async def tasks(self, principal: Principal, view: TaskView = "team", today: date | None = None) -> list[TaskRecord]:
        """Open tasks of the person's sites that their role can do (a team lead's: all of them) in one
        view, overdue first, then by priority and due time."""
        require_allowed(principal.actor, Action.LIST_TASKS)
        today = today or self.today()
        tasks = [t for site in principal.sites for t in await self.gateway.tasks(site)]
        chosen = [
            t for t in tasks if may_work_on(principal.role, t.candidate_roles) and _in_view(t, view, principal, today)
        ]
        return sorted(chosen, key=inbox_order)

    async def task(self, principal: Principal, task_id: str) -> TaskDetail:
        """One task of the person's sites (any status) with its case; recorded as a read of the case."""
        require_allowed(principal.actor, Action.LIST_TASKS)
        task = await self._task_in_scope(principal, task_id)
        roles = tuple(Role(role) for role in task.candidate_roles)
        await self.record(principal, task.case_id, "read_task", "work on a task")
        return TaskDetail(
            task=task,
            case=await self.opened(principal, task.case_id, await self.gateway.state(task.case_id)),
            assignees=list(self.config.staff_at(task.site, roles)),
        )

    async def cases(self, principal: Principal, stage: str | None = None) -> list[CaseRecord]:
        """The case index of the person's sites (at one stage, if given), oldest first."""
        require_allowed(principal.actor, Action.READ_CASE)
        found = [c for site in principal.sites for c in await self.gateway.cases(site, stage)]
        return sorted(found, key=index_order)

    async def handles(self, principal: Principal, case_ids: Iterable[str]) -> dict[str, "CaseHandle"]:
        """Who each listed case of the person's sites is about (their initials and the custody or court
        reference), so a list tells cases apart. Cases outside the sites are left out, as absent.

        Opening them is a read of personal data, recorded like any read: a name seen in a list has
        been seen, and "who has seen this person's name" must be answerable. Its own action
        (`read_handle`) keeps it apart from opening the case."""
        require_allowed(principal.actor, Action.READ_CASE)
        handles: dict[str, CaseHandle] = {}
        for case_id in dict.fromkeys(case_ids):
            record = await self.gateway.case(case_id)
            if record is None or not principal.covers(record.site):
                continue
            await self.record(principal, case_id, "read_handle", "a list showed the person's initials and reference")
            handles[case_id] = await self.opened(principal, case_id, CaseHandle.of(await self.gateway.state(case_id)))
        return handles

    async def find_case(
        self, principal: Principal, site: str, ref: str, break_glass_reason: str | None = None
    ) -> CaseView:
        """A case by its site and custody or court reference. Whether one exists outside the person's
        sites is never said, and its id never shown."""
        case_id = case_id_for(self.case_id_key, site, ref)
        try:
            return await self.read_case(principal, case_id, break_glass_reason)
        except RuleViolation as refused:
            if refused.rule is not Rule.CASE_UNKNOWN:
                raise
            message = f"there is no case with that reference at site {site} in your sites"
            raise RuleViolation(Rule.CASE_UNKNOWN, message) from None

    async def read_case(self, principal: Principal, case_id: str, reason: str | None = None) -> CaseView:
        """A case's state and timeline. Outside the person's sites only with a stated reason, which
        is recorded and alerts the site's team leads."""
        require_allowed(principal.actor, Action.READ_CASE)
        if reason is not None:
            reason = break_glass_reason(reason)
        record = await self.gateway.case(case_id)
        in_scope = record is not None and principal.covers(record.site)
        may_break_glass = reason is not None and allowed(principal.role, Action.BREAK_GLASS)
        if record is None or not (in_scope or may_break_glass):
            raise RuleViolation(Rule.CASE_UNKNOWN, f"there is no case {case_id} in your sites")
        if in_scope:
            await self.record(principal, case_id, "read_case", "case work")
        else:
            assert reason is not None
            await self.break_glass(principal, record, reason)
        view = CaseView(state=await self.gateway.state(case_id), timeline=await self.gateway.events(case_id))
        opened = await self.opened(principal, case_id, view)
        return opened.model_copy(update={"referral_times": self.referral_times(opened.state)})

    def referral_times(self, state: CaseState) -> list[ReferralTimes]:
        """The chase and escalation times of the case's referrals, by its site's configuration (none
        if the site has left the configuration: nothing is chasing for it then)."""
        site = self.config.sites.get(state.site)
        return case_referral_times(state, site) if site is not None else []

    async def case_access(self, principal: Principal, case_id: str) -> list[AccessEntry]:
        """Who read or changed a case, when and why (auditors)."""
        require_allowed(principal.actor, Action.READ_ACCESS_LOG)
        await self.in_scope(principal, case_id)
        await self.record(principal, case_id, "read_access_log", "audit")
        return await self.access_entries(principal, case_id)

    async def access_entries(self, principal: Principal, case_id: str) -> list[AccessEntry]:
        """The case's access log opened for its reader (callers have checked and recorded the read)."""
        entries = [AccessEntry.model_validate(record.model_dump()) for record in await self.access.list(case_id)]
        return (await self.opened(principal, case_id, _AccessLogView(entries=entries))).entries

    # Changes: recorded by the workflow with their events, so nothing is written here

    async def start_case(self, principal: Principal, command: OpenCase) -> "StartedCase":
        """Open a case; for a site and reference that already have one, that case answers (and says
        so), unless it has reached sentence or disposal: then the start is refused, pointing to the
        service that works with the person now (domain/reconnect.py)."""
        require_allowed(principal.actor, Action.START_CASE)
        self._in_own_name(principal, command.actor)
        site = self.config.site(command.site)
        if not principal.covers(command.site):
            raise RuleViolation(Rule.OUTSIDE_YOUR_SITES, f"you do not work at site {command.site}")
        command = check_opening(command, self.today())
        case_id = case_id_for(self.case_id_key, command.site, command.external_ref)
        already = await self.gateway.case(case_id)
        if already is not None:  # before anything is sent or recorded (the workflow checks it again)
            refuse_after_sentence(await self.gateway.state(case_id))
        command = await self._with_person(case_id, command)
        summary, details = case_summary(command), case_details(command)
        sealed = await self.sealed(case_id, command)
        opening = partial(self.gateway.start, case_id, site, sealed, summary, details)
        state = await self._while_catching_up(opening, sealed)
        await self.matcher.remember(case_id, command.person)
        if already is not None:  # the same referral again: nothing changed, the case was read
            await self.record(principal, case_id, "read_case", "identification: the referral was already open")
        return StartedCase.of(await self.opened(principal, case_id, state), found=already is not None)

    # A change given an `expected_version` (the case's version as the person last read it) is refused
    # if the case has moved on since (rule case_version_changed), by the workflow as it decides.

    async def _with_person(self, case_id: str, command: OpenCase) -> OpenCase:
        """The command with the episode's person as the index finds them (whatever a caller sent)."""
        own = await self.person_of(case_id)
        found = await self.matcher.match(command.person, own)
        person = {"person_id": own, "same_person_as": found.same_person_as, "possible_people": found.possible_people}
        return command.model_copy(update=person)

    async def claim(self, principal: Principal, task_id: str, *, expected_version: int | None = None) -> CaseState:
        require_allowed(principal.actor, Action.CLAIM_TASK)
        task = await self._task_in_scope(principal, task_id)
        claim = ClaimTask(actor=principal.actor, task_id=task_id, expected_version=expected_version)
        return await self._send(principal, task.case_id, claim)

    async def reassign(
        self, principal: Principal, task_id: str, assignee: str, *, expected_version: int | None = None
    ) -> CaseState:
        """Give a task to `assignee`, who must be in the staff directory (and, the workflow checks,
        work at the task's site and be able to do it)."""
        require_allowed(principal.actor, Action.REASSIGN_TASK)
        task = await self._task_in_scope(principal, task_id)
        member = self.config.staff_member(assignee)
        command = ReassignTask(
            actor=principal.actor,
            task_id=task_id,
            assignee=member.staff_id,
            assignee_role=member.role,
            assignee_sites=member.sites,
            expected_version=expected_version,
        )
        return await self._send(principal, task.case_id, command)

    async def complete(
        self,
        principal: Principal,
        task_id: str,
        outcome: dict[str, Any],
        of_case: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> CaseState:
        """Record a task's outcome (of the case `of_case`, when the asker names one: a form on its
        page); the case moves on and its new state is the answer."""
        require_allowed(principal.actor, Action.COMPLETE_TASK)
        task = await self._task_in_scope(principal, task_id)
        if of_case is not None and task.case_id != of_case:
            raise RuleViolation(Rule.TASK_UNKNOWN, f"case {of_case} has no task {task_id}")
        checked = checked_outcome(await self.gateway.state(task.case_id), task_id, principal.actor, outcome)
        sealed = await self.sealed(task.case_id, checked)
        command = CompleteTask(
            actor=principal.actor,
            task_id=task_id,
            outcome=sealed.model_dump(mode="json"),
            expected_version=expected_version,
        )
        return await self._send(principal, task.case_id, command)

    async def record_date_of_birth(
        self, principal: Principal, case_id: str, date_of_birth: str, *, expected_version: int | None = None
    ) -> CaseState:
        """The person's date of birth, learnt after the case opened: it verifies their age, and a band
        other than the case's moves it to that pathway."""
        require_allowed(principal.actor, Action.RECORD_DATE_OF_BIRTH)
        await self.in_scope(principal, case_id)
        command = RecordDateOfBirth(
            actor=principal.actor, date_of_birth=date_of_birth, expected_version=expected_version
        )
        before = await self.gateway.state(case_id)
        checked = check_date_of_birth(before, command, self.today())
        # The name and this date may suggest people seen before; and later episodes can find this one.
        named = (await self.sealer.open_for_case(before, case_id)).person.model_copy(
            update={"date_of_birth": checked.date_of_birth}
        )
        found = await self.matcher.match(named, await self.person_of(case_id))
        checked = checked.model_copy(update={"possible_people": found.possible_people})
        state = await self._send(principal, case_id, await self.sealed(case_id, checked))
        await self.matcher.remember(case_id, named)
        return state

    async def change_case(self, principal: Principal, case_id: str, command: CaseChange) -> CaseState:
        """A change to a case that is not a task: sharing, consent withdrawal, referral outcome, court
        report request, closure."""
        require_allowed(principal.actor, CHANGE_ACTIONS[type(command)])
        self._in_own_name(principal, command.actor)
        await self.in_scope(principal, case_id)
        check_change(command)
        return await self._send(principal, case_id, await self.sealed(case_id, command))

    # The steps, for the service's other parts (audit, exports)

    async def in_scope(self, principal: Principal, case_id: str) -> CaseRecord:
        record = await self.gateway.case(case_id)
        if record is None or not principal.covers(record.site):
            raise RuleViolation(Rule.CASE_UNKNOWN, f"there is no case {case_id} in your sites")
        return record

    async def person_of(self, case_id: str) -> str:
        """The person whose key seals the case's personal data: the one the store holds a key for,
        else (before anything was sealed) the one the case id key derives."""
        return await self.sealer.keys.person_of(case_id) or person_id_for(self.case_id_key, case_id)

    async def sealed(self, case_id: str, model: Readable) -> Readable:
        """The model with its personal fields sealed under the case's person's key: this is where
        they leave plaintext behind for good."""
        try:
            return await self.sealer.seal(model, await self.person_of(case_id), case_id)
        except PersonUnknown as shredded:
            raise RuleViolation(Rule.PERSON_SHREDDED, str(shredded)) from None

    async def opened(self, principal: Principal, case_id: str, model: Readable) -> Readable:
        """What a person reads of a case: its person's sealed values opened ("[shredded]" once gone).
        A value sealed for anyone else is withheld, and the attempt recorded."""
        found = await self.sealer.open(model, await self.person_of(case_id))
        if found.withheld:
            log.warning("sealed values of another person withheld", case_id=case_id, count=found.withheld)
            await self.record(principal, case_id, "withheld", "sealed values of another person were not opened")
        return found.model

    async def record(
        self,
        principal: Principal,
        case_id: str,
        action: str,
        purpose: str,
        *,
        written: bool = False,
        break_glass: bool = False,
    ) -> AccessRecord:
        """Record a read. A purpose someone `written` (a break-glass reason, an export's purpose) is
        sealed with the case's person's key: it may name them, so it goes when they are shredded (and
        is not kept at all once they have been)."""
        if written:
            try:
                purpose = (await self.sealed(case_id, Written(text=purpose))).text
            except RuleViolation as shredded:
                if shredded.rule is not Rule.PERSON_SHREDDED:
                    raise
                purpose = SHREDDED
        return await self.access.record(case_id, principal.staff_id, principal.role, action, purpose, break_glass)

    async def break_glass(self, principal: Principal, record: CaseRecord, reason: str) -> None:
        """A read from outside the case's sites: recorded with its reason, and the site's team leads
        told by the worker (the alert carries codes, never the reason). If they cannot be told, the
        case is not shown."""
        access = await self.record(
            principal, record.case_id, "read_case", f"break-glass: {reason}", written=True, break_glass=True
        )
        alert = BreakGlassAlert(
            alert_id=access.access_id,
            case_id=record.case_id,
            site=record.site,
            staff_id=principal.staff_id,
            role=principal.role,
        )
        try:
            await self.gateway.alert(alert)
        except (RPCError, RuntimeError):  # Temporal refused, or (a lazy client) could not be reached
            raise RuleViolation(
                Rule.ALERT_UNAVAILABLE,
                "the case's team leads cannot be told of this read at the moment, so it is not shown: try again",
            ) from None

    async def _send(self, principal: Principal, case_id: str, command: CaseCommand) -> CaseState:
        state = await self._while_catching_up(partial(self.gateway.send, case_id, command), command)
        return await self.opened(principal, case_id, state)

    async def _while_catching_up(
        self, send: Callable[[], Awaitable[CaseState]], command: CaseCommand | OpenCase
    ) -> CaseState:
        """Send a command, trying again for a few seconds while the case is catching up, then refuse
        it as "try again in a moment". Catching up is a workflow task that failed before the workflow
        took the command (nothing was recorded), or a task the store holds but the workflow does not
        know yet (its append committed, and the worker that made it died before the workflow took in
        the result: the append's retry brings the workflow up to date): never called unknown."""
        deadline, wait = time.monotonic() + CATCHING_UP_SECONDS, FIRST_CATCHING_UP_WAIT
        while True:
            try:
                return await send()
            except RuleViolation as refused:
                if not await self._catching_up(refused, command):
                    raise
            if time.monotonic() + wait > deadline:
                break
            await asyncio.sleep(wait)
            wait *= 2
        raise RuleViolation(
            Rule.CASE_CATCHING_UP,
            "the case is still taking in its last change (a worker restarted or stalled): try again in a moment",
        )

    async def _catching_up(self, refused: RuleViolation, command: CaseCommand | OpenCase) -> bool:
        if refused.rule is Rule.CASE_CATCHING_UP:
            return True
        return refused.rule is Rule.TASK_UNKNOWN and await self._task_recorded(command)

    async def _task_recorded(self, command: CaseCommand | OpenCase) -> bool:
        task_id = getattr(command, "task_id", None)
        return isinstance(task_id, str) and await self.gateway.task(task_id) is not None

    async def _task_in_scope(self, principal: Principal, task_id: str) -> TaskRecord:
        task = await self.gateway.task(task_id)
        if task is None or not principal.covers(task.site):
            raise RuleViolation(Rule.TASK_UNKNOWN, f"there is no task {task_id} in your sites")
        return task

    @staticmethod
    def _in_own_name(principal: Principal, actor: Any) -> None:
        if actor != principal.actor:
            raise RuleViolation(Rule.INVALID_COMMAND, "a case is changed in your own name only")


class StartedCase(CaseState):
    """A started case as the person starting it sees it. `found_existing`: the site and reference
    already had this case, which answers instead of a new one (nothing new was opened), and
    `notice` says so in words naming the case."""

    found_existing: bool = False
    notice: str | None = None

    @classmethod
    def of(cls, state: CaseState, found: bool) -> "StartedCase":
        notice = None
        if found:
            notice = (
                f"this reference already has case {state.case_id} ({state.stage}, opened "
                f"{state.opened_at:%Y-%m-%d %H:%M} UTC): it is shown; no new case was opened"
                if state.opened_at
                else f"this reference already has case {state.case_id}: it is shown; no new case was opened"
            )
        return cls.model_construct(**dict(state), found_existing=found, notice=notice)


class CaseHandle(BaseModel):
    """What tells a case apart for a reader: the person's name (shown as initials in lists) and the
    custody or court reference, opened for one reader. Built for a page only: never put in a URL, a
    log line or a command, so it never reaches Temporal."""

    name: Annotated[str | None, Personal()] = None
    reference: PersonalStr = ""

    @classmethod
    def of(cls, state: CaseState) -> "CaseHandle":
        return cls(name=state.person.name, reference=state.external_ref)

    @property
    def initials(self) -> str:
        """Sam Example's are SE; a name that cannot be read ("[shredded]") stays as it reads; none, ""."""
        if self.name is None or self.name in UNOPENED:
            return self.name or ""
        return "".join(part[0] for part in self.name.split()).upper()


class Written(BaseModel):
    """Something a person wrote, as a personal field (sealed with the person's key)."""

    text: PersonalStr


def inbox_order(task: TaskRecord) -> tuple[bool, int, datetime, str]:
    """Where a task comes in the inbox: overdue first, then by priority and due time; its id makes the
    order total, so a page of it can start after any task (api/pagination.py)."""
    return (not task.overdue, PRIORITY_ORDER.get(task.priority, 9), task.due_at, task.task_id)


def index_order(case: CaseRecord) -> tuple[datetime, str]:
    """Where a case comes in the case index: oldest first, its id breaking ties."""
    return (case.opened_at, case.case_id)


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
