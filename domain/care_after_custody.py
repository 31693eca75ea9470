"""A RECONNECT episode's own work (care after custody), once its release date is known.

RECONNECT engages people up to `engage_before_release_weeks` before they leave custody and supports
them up to `support_after_release_months` after (the site's `[reconnect]` timings, carried by the
episode from when it opened). Recording the release date schedules both: the engagement task opens
that long before release (at once, if that time has passed), and the closure task opens when support
after release ends. A release date that moves is recorded again: the work not yet open is scheduled
anew; engagement already under way is left as it is.
"""

import calendar
from datetime import date, datetime, time, timedelta

from domain.commands import RecordReleaseDate
from domain.decisions import DecisionContext, new_task, require, schedule_task, setting_of
from domain.errors import Rule
from domain.events import DomainEvent, ReconnectEngagementRecorded, ReleaseDateRecorded, TaskCancelled, TaskCompleted
from domain.outcomes import ReconnectEngagementOutcome, Urgency
from domain.state import CaseState
from domain.tasks import TaskKind, TaskStatus
from domain.timeline import UK

RESCHEDULED = (TaskKind.RECONNECT_ENGAGEMENT, TaskKind.CLOSURE)


def record_release(state: CaseState, command: RecordReleaseDate, ctx: DecisionContext) -> list[DomainEvent]:
    care = state.care_after_custody
    require(
        care is not None,
        Rule.NOT_A_RECONNECT_EPISODE,
        f"case {state.case_id} is not a RECONNECT episode: a release date is recorded on the RECONNECT "
        f"episode the hand-off opened{f' ({state.linked_case_id})' if state.linked_case_id else ''}",
    )
    assert care is not None and state.opened_at is not None
    opened_on = state.opened_at.astimezone(UK).date()
    require(
        command.release_on >= opened_on,
        Rule.RELEASE_BEFORE_EPISODE,
        f"the release date ({command.release_on}) is before the episode opened ({opened_on})",
    )
    engage_from = max(ctx.now, _uk_midnight(command.release_on - timedelta(weeks=care.engage_before_release_weeks)))
    support_until = _uk_midnight(_months_after(command.release_on, care.support_after_release_months))
    recorded = ReleaseDateRecorded(release_on=command.release_on, engage_from=engage_from, support_until=support_until)
    moved = [
        TaskCancelled(task_id=task.task_id, reason="the release date moved")
        for task in state.tasks.values()
        if task.kind in RESCHEDULED and task.status is TaskStatus.SCHEDULED
    ]
    engaging = [t for t in state.tasks.values() if t.kind is TaskKind.RECONNECT_ENGAGEMENT]
    engagement: list[DomainEvent] = []
    if not any(t.status in (TaskStatus.OPEN, TaskStatus.COMPLETED) for t in engaging):
        if engage_from <= ctx.now:
            engagement = [new_task(ctx, TaskKind.RECONNECT_ENGAGEMENT, setting_of(state), Urgency.URGENT)]
        else:
            engagement = [schedule_task(state, ctx, TaskKind.RECONNECT_ENGAGEMENT, engage_from)]
    closure = schedule_task(state, ctx, TaskKind.CLOSURE, support_until)
    return [recorded, *moved, *engagement, closure]


def engagement_recorded(outcome: ReconnectEngagementOutcome, done: TaskCompleted) -> list[DomainEvent]:
    return [ReconnectEngagementRecorded(engaged=outcome.engaged), done]


def _uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UK)


def _months_after(day: date, months: int) -> date:
    """The same day `months` later; a day the month lacks (31 April) becomes the month's last."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
