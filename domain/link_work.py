"""Community link work and follow-up: time-boxed support with contacts, a disengagement review after
repeated missed contacts, follow-up checks at set offsets after support ends, and the closure gate."""

from domain.decisions import DecisionContext, enter, new_task, require, schedule_task, setting_of
from domain.errors import Rule
from domain.events import (
    ContactRecorded,
    DisengagementReviewed,
    DomainEvent,
    FollowUpRecorded,
    StageEntered,
    SupportEnded,
    SupportStarted,
    TaskCancelled,
    TaskCompleted,
    TaskOpened,
)
from domain.model import Cohort, Stage
from domain.outcomes import (
    ClosureReason,
    ContactOutcome,
    DisengagementReviewOutcome,
    FollowUpOutcome,
    GoalArea,
    ReferralStatus,
    Urgency,
)
from domain.state import CaseState, Support
from domain.tasks import TaskKind, TaskStatus

# A contact may progress only the goals the link work set (runs recorded before took any goal): the
# workflow patch guarding the rule where it now refuses (tests/histories/README.md).
CONTACT_GOALS_SET = "contact-goals-the-support-set"
# Referral statuses that still wait for what came of the referral.
WITHOUT_OUTCOME = (ReferralStatus.DRAFTED, ReferralStatus.SENT, ReferralStatus.ACCEPTED)


def start_support(state: CaseState, goals: list[GoalArea], ctx: DecisionContext) -> list[DomainEvent]:
    site = ctx.site
    days = site.womens_support_days if Cohort.WOMENS_PATHWAY in state.cohorts else site.support_days
    # The first contact comes within the support, however short the site makes it.
    first_contact = min(site.contact_every_days, days)
    return [
        *enter(state, Stage.SUPPORT),
        SupportStarted(goals=tuple(dict.fromkeys(goals)), ends_at=ctx.now + site.days(days)),
        _contact(state, ctx, first_contact),
    ]


def after_contact(
    state: CaseState, outcome: ContactOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    support = _support(state)
    unset = [str(goal) for goal in outcome.goals_progressed if goal not in support.goals]
    require(
        not (unset and support.goals and ctx.patched(CONTACT_GOALS_SET)),
        Rule.GOAL_NOT_SET,
        f"this case's link work set the goals {', '.join(support.goals)}, not {', '.join(unset)}",
    )
    recorded = ContactRecorded(
        attendance=outcome.attendance, goals_progressed=tuple(outcome.goals_progressed), note=outcome.note
    )
    missed = support.missed_in_a_row + 1 if outcome.attendance == "did_not_attend" else 0
    if missed >= ctx.site.missed_contacts_for_review:
        review = new_task(ctx, TaskKind.DISENGAGEMENT_REVIEW, setting_of(state), Urgency.URGENT)
        return [recorded, done, review]
    return [recorded, done, *_next_contact(state, support, ctx, outcome.next_contact_in_days)]


def after_review(
    state: CaseState, outcome: DisengagementReviewOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    support = _support(state)
    reviewed = DisengagementReviewed(decision=outcome.decision, reason=outcome.reason)
    if outcome.decision == "end":
        return [reviewed, done, *end_support(state, ctx, "ended_after_review", completed=done.task_id)]
    interval = ctx.site.contact_every_days * (2 if outcome.decision == "pause" else 1)
    return [reviewed, done, *_next_contact(state, support, ctx, interval)]


def end_support(state: CaseState, ctx: DecisionContext, reason: str, completed: str | None = None) -> list[DomainEvent]:
    """Support ends (time is up, or a review ended it): follow-ups are scheduled from now."""
    support = _support(state)
    require(support.ended_at is None, Rule.SUPPORT_ALREADY_ENDED, "the link-work support has already ended")
    require(
        reason == "ended_after_review" or ctx.now >= support.ends_at,
        Rule.NOT_YET_TIME,
        f"the support runs until {support.ends_at}",
    )
    cancelled = [
        TaskCancelled(task_id=t.task_id, reason="support ended")
        for t in state.open_tasks
        if t.kind in (TaskKind.CONTACT, TaskKind.DISENGAGEMENT_REVIEW) and t.task_id != completed
    ]
    follow_ups = [
        schedule_task(state, ctx, TaskKind.FOLLOW_UP, ctx.now + ctx.site.days(offset))
        for offset in sorted(set(ctx.site.follow_up_offsets_days))
    ]
    ended = SupportEnded(reason="time_limit_reached" if reason == "time_limit_reached" else "ended_after_review")
    stage: list[StageEntered] = enter(state, Stage.FOLLOW_UP)
    if follow_ups:
        return [*cancelled, ended, *stage, *follow_ups]
    return [*cancelled, ended, *stage, new_task(ctx, TaskKind.CLOSURE, setting_of(state), Urgency.ROUTINE)]


def after_follow_up(
    state: CaseState, outcome: FollowUpOutcome, done: TaskCompleted, ctx: DecisionContext
) -> list[DomainEvent]:
    recorded = FollowUpRecorded(engaged_with_services=outcome.engaged_with_services, concerns=outcome.concerns)
    still_to_come = [
        t
        for t in state.tasks.values()
        if t.kind is TaskKind.FOLLOW_UP
        and t.status in (TaskStatus.SCHEDULED, TaskStatus.OPEN)
        and t.task_id != done.task_id
    ]
    if still_to_come:
        return [recorded, done]
    return [recorded, done, new_task(ctx, TaskKind.CLOSURE, setting_of(state), Urgency.ROUTINE)]


def closure_gate(state: CaseState, reason: ClosureReason) -> None:
    """A case in which support was delivered closes only when every referral and the support have an
    outcome. A record made in error can always be closed."""
    if state.support is None or reason is ClosureReason.RECORD_MADE_IN_ERROR:
        return
    missing = [
        f"the referral to {r.request.service_id} ({r.referral_id}) has no outcome yet (it is {r.status})"
        for r in state.referrals
        if r.status in WITHOUT_OUTCOME
    ]
    if state.support.ended_at is None:
        missing.append("the link-work support has not ended")
    require(not missing, Rule.CLOSURE_GATE, "the case cannot close yet: " + "; ".join(missing))


def _next_contact(state: CaseState, support: Support, ctx: DecisionContext, in_days: int | None) -> list[TaskOpened]:
    days = in_days or ctx.site.contact_every_days
    if ctx.now + ctx.site.days(days) > support.ends_at:
        return []  # the support ends first
    return [_contact(state, ctx, days)]


def _contact(state: CaseState, ctx: DecisionContext, in_days: int) -> TaskOpened:
    return new_task(ctx, TaskKind.CONTACT, setting_of(state), Urgency.ROUTINE, due_at=ctx.now + ctx.site.days(in_days))


def _support(state: CaseState) -> Support:
    require(state.support is not None, Rule.NO_SUPPORT, f"case {state.case_id} has no link-work support")
    assert state.support is not None
    return state.support
