"""What every decision needs: its context (time, ids, site), the checks that name a broken rule, and
the building blocks of events that several rule modules use (entering a stage, opening a task)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.config import SiteConfig
from domain.errors import Rule, RuleViolation
from domain.events import DomainEvent, StageEntered, TaskOpened, TaskScheduled
from domain.model import Actor, Role, Setting, Stage
from domain.outcomes import Urgency
from domain.sla import add_service_minutes
from domain.state import CaseState
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus

# The stages a case may move to from each stage. Closing is allowed from every open stage.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.IDENTIFIED: frozenset({Stage.SCREENING}),
    Stage.SCREENING: frozenset({Stage.ASSESSMENT, Stage.INFORMATION_SHARING}),
    Stage.ASSESSMENT: frozenset({Stage.INFORMATION_SHARING}),
    Stage.INFORMATION_SHARING: frozenset({Stage.REFERRAL}),
    Stage.REFERRAL: frozenset({Stage.SUPPORT, Stage.FOLLOW_UP}),
    Stage.SUPPORT: frozenset({Stage.FOLLOW_UP}),
    Stage.FOLLOW_UP: frozenset(),
    Stage.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class DecisionContext:
    now: datetime
    new_id: Callable[[], str]
    site: SiteConfig
    # Whether a rule change guarded by a workflow patch applies (`workflow.patched` in the workflow's
    # handlers, so a history recorded before the change decides as it did then; True elsewhere).
    patched: Callable[[str], bool] = lambda _name: True


def enter(state: CaseState, stage: Stage) -> list[StageEntered]:
    current = state.stage
    assert current is not None  # decide() only reaches here for open cases
    require(
        stage in TRANSITIONS[current],
        Rule.STAGE_TRANSITION,
        f"a case cannot move from {current} to {stage}",
    )
    return [StageEntered(stage=stage, previous=current)]


def new_task(
    ctx: DecisionContext,
    kind: TaskKind,
    setting: Setting,
    priority: Urgency,
    due_at: datetime | None = None,
    referral_id: str | None = None,
    report_id: str | None = None,
    task_id: str | None = None,
    candidates: tuple[str, ...] = (),
) -> TaskOpened:
    due = due_at or add_service_minutes(ctx.site.operating_hours, ctx.now, ctx.site.sla_minutes(kind, setting))
    remind_at = due - timedelta(minutes=ctx.site.reminder_minutes(kind))
    task = Task(
        task_id=task_id or ctx.new_id(),
        kind=kind,
        site=ctx.site.site_id,
        candidate_roles=CANDIDATE_ROLES[kind],
        priority=priority,
        due_at=due,
        opened_at=ctx.now,
        referral_id=referral_id,
        report_id=report_id,
        candidates=candidates,
        remind_at=remind_at if remind_at > ctx.now else None,
        escalate_at=due + timedelta(minutes=ctx.site.escalate_after_minutes),
    )
    return TaskOpened(task=task)


def open_task(state: CaseState, task_id: str) -> Task:
    task = state.tasks.get(task_id)
    require(task is not None, Rule.TASK_UNKNOWN, f"case {state.case_id} has no task {task_id}")
    assert task is not None
    require(task.status is TaskStatus.OPEN, Rule.TASK_NOT_OPEN, f"task {task_id} is already {task.status}")
    return task


def require_role(actor: Actor, roles: tuple[Role, ...], action: str) -> None:
    require(
        actor.role in roles,
        Rule.ROLE_NOT_ALLOWED,
        f"{actor.role.with_article} cannot {action} (allowed: {', '.join(roles)})",
    )


def setting_of(state: CaseState) -> Setting:
    assert state.setting is not None
    return state.setting


def require(condition: bool, rule: Rule, message: str) -> None:
    if not condition:
        raise RuleViolation(rule, message)


def open_scheduled(state: CaseState, task_id: str, ctx: DecisionContext) -> list[DomainEvent]:
    """A scheduled task opens: due, reminder and escalation are set from now, its links are kept."""
    task = state.tasks.get(task_id)
    require(
        task is not None and task.status is TaskStatus.SCHEDULED,
        Rule.TASK_NOT_SCHEDULED,
        f"case {state.case_id} has no scheduled task {task_id}",
    )
    assert task is not None and task.opens_at is not None
    require(ctx.now >= task.opens_at, Rule.NOT_YET_TIME, f"task {task_id} opens at {task.opens_at}")
    return [
        new_task(
            ctx,
            task.kind,
            setting_of(state),
            task.priority,
            referral_id=task.referral_id,
            report_id=task.report_id,
            task_id=task.task_id,
        )
    ]


def schedule_task(
    state: CaseState, ctx: DecisionContext, kind: TaskKind, opens_at: datetime, report_id: str | None = None
) -> TaskScheduled:
    """A task that opens by itself at `opens_at` (see open_scheduled)."""
    task = Task(
        task_id=ctx.new_id(),
        kind=kind,
        site=ctx.site.site_id,
        candidate_roles=CANDIDATE_ROLES[kind],
        status=TaskStatus.SCHEDULED,
        opens_at=opens_at,
        opened_at=ctx.now,
        # Provisional: the due time is set again, in operating hours, when the task opens.
        due_at=opens_at + timedelta(minutes=ctx.site.sla_minutes(kind, setting_of(state))),
        report_id=report_id,
    )
    return TaskScheduled(task=task)
