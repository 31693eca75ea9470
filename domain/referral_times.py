"""When an unanswered referral is chased and escalated: the times people plan around.

The referral's workflow (workflows/referral_workflow.py) sleeps until these times, and the case
views (CLI, API, web) show them; both compute them here, from when the referral was sent and the
site's calendar and referral timings, so what a practitioner is shown is what the workflow does.

The workflow counts from the moment it learnt that the case had recorded the send; the case's record
of the send (`Referral.sent_at`) is the moment the case recorded it. The two are the two ends of one
signal, a fraction of a second apart, so shown to the minute they agree.
"""

from datetime import datetime
from typing import Literal

from domain.calendar import after
from domain.config import ReferralTimings, SiteConfig, WorkingCalendar
from domain.model import Strict
from domain.outcomes import ReferralStatus
from domain.state import CaseState, Referral

# What the referral waits for next: its chase, its escalation, or nothing (answered, escalated
# already, never sent, or the case has closed, which stops the chasing).
NextStep = Literal["chase", "escalation"]


class ReferralTimes(Strict):
    referral_id: str
    sent_at: datetime
    chase_at: datetime
    escalate_at: datetime
    next_step: NextStep | None


def chase_and_escalation_times(
    calendar: WorkingCalendar, timings: ReferralTimings, sent_at: datetime
) -> tuple[datetime, datetime]:
    """When a referral sent at `sent_at` is chased, and when escalated, if the service has not answered."""
    return (
        after(calendar, timings, sent_at, timings.chase_after),
        after(calendar, timings, sent_at, timings.escalate_after),
    )


def referral_times(referral: Referral, site: SiteConfig, case_open: bool) -> ReferralTimes | None:
    """The chase and escalation times of a sent referral (None if it was never sent)."""
    if referral.sent_at is None:
        return None
    chase_at, escalate_at = chase_and_escalation_times(site.calendar, site.referral_timings, referral.sent_at)
    next_step: NextStep | None = None
    if case_open and referral.status is ReferralStatus.SENT:
        if not referral.chased:
            next_step = "chase"
        elif not referral.escalated:
            next_step = "escalation"
    return ReferralTimes(
        referral_id=referral.referral_id,
        sent_at=referral.sent_at,
        chase_at=chase_at,
        escalate_at=escalate_at,
        next_step=next_step,
    )


def case_referral_times(state: CaseState, site: SiteConfig) -> list[ReferralTimes]:
    """The times of each of the case's sent referrals, in the order they were made."""
    found = (referral_times(referral, site, state.is_open) for referral in state.referrals)
    return [times for times in found if times is not None]
