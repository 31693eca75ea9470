"""A case's timer deadlines: reminders, due times and escalations of its open tasks, the opening of
scheduled tasks, and the end of time-boxed support.

The case workflow sleeps until the earliest one and then sends the system command for each that
has come; the rules decide the events, exactly as for a person's command.
"""

from datetime import datetime
from typing import NamedTuple

from domain.commands import Command, EndSupport, EscalateTask, MarkOverdue, OpenScheduledTask, SendReminder
from domain.model import SYSTEM_ACTOR
from domain.state import CaseState
from domain.tasks import TaskStatus


class Deadline(NamedTuple):
    at: datetime
    command: Command


def pending_deadlines(state: CaseState) -> list[Deadline]:
    deadlines: list[Deadline] = []
    if not state.is_open:
        return deadlines
    support = state.support
    if support is not None and support.ended_at is None:
        deadlines.append(Deadline(support.ends_at, EndSupport(actor=SYSTEM_ACTOR)))
    for task in state.tasks.values():
        if task.status is TaskStatus.SCHEDULED and task.opens_at is not None:
            deadlines.append(Deadline(task.opens_at, OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=task.task_id)))
    for task in state.open_tasks:
        if task.remind_at and not task.reminded and not task.overdue:
            deadlines.append(Deadline(task.remind_at, SendReminder(actor=SYSTEM_ACTOR, task_id=task.task_id)))
        if not task.overdue:
            deadlines.append(Deadline(task.due_at, MarkOverdue(actor=SYSTEM_ACTOR, task_id=task.task_id)))
        if task.escalate_at and not task.escalated:
            deadlines.append(Deadline(task.escalate_at, EscalateTask(actor=SYSTEM_ACTOR, task_id=task.task_id)))
    return sorted(deadlines, key=lambda deadline: deadline.at)


def next_deadline(state: CaseState) -> datetime | None:
    deadlines = pending_deadlines(state)
    return deadlines[0].at if deadlines else None


def commands_due(state: CaseState, now: datetime) -> list[Command]:
    """The system commands whose time has come, earliest first. A reminder whose task is already
    due is dropped: after a pause (a worker outage, say) the overdue mark and escalation say it all."""
    return [
        deadline.command
        for deadline in pending_deadlines(state)
        if deadline.at <= now
        and not (isinstance(deadline.command, SendReminder) and state.tasks[deadline.command.task_id].due_at <= now)
    ]
