"""A referral's chase and escalation times (domain/referral_times.py): working days on the site's
calendar, minutes on the demo site, and what the referral waits for next."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.commands import ChaseReferral, CloseCase, EscalateReferral, RecordReferralOutcome, RecordReferralSent
from domain.config import ReferralTimings, WorkingCalendar
from domain.model import SYSTEM_ACTOR
from domain.outcomes import ClosureOutcome, ClosureReason, ReferralStatus, ServiceType
from domain.referral_times import case_referral_times, chase_and_escalation_times, referral_times
from domain.tasks import TaskKind
from tests.domain.support import (
    LINK_WORKER,
    PRACTITIONER,
    Case,
    consent_given,
    make_site,
    open_case,
    referral_decision,
    screening,
    share,
)

# England and Wales, Easter 2026: Good Friday 3 April and Easter Monday 6 April are bank holidays.
EASTER_2026 = WorkingCalendar(holidays=(date(2026, 4, 3), date(2026, 4, 6)))
WORKING_DAYS = ReferralTimings(chase_after=2, escalate_after=4)
LONDON = ZoneInfo("Europe/London")


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("sent", "chase", "escalate"),
    [
        # Sent on a Friday afternoon: chased on Tuesday, not over the weekend; escalated on Thursday.
        (london(2026, 3, 6, 16), london(2026, 3, 10, 16), london(2026, 3, 12, 16)),
        # Friday late at night (after the office closed) counts from Friday all the same.
        (london(2026, 3, 6, 23, 30), london(2026, 3, 10, 23, 30), london(2026, 3, 12, 23, 30)),
        # Sent on a Saturday: Monday is the first working day after it.
        (london(2026, 3, 7, 10), london(2026, 3, 10, 10), london(2026, 3, 12, 10)),
        # Before Easter: Good Friday and Easter Monday do not count.
        (london(2026, 4, 2, 15), london(2026, 4, 8, 15), london(2026, 4, 10, 15)),
        # Across the change to summer time (29 March 2026): the same local time of day.
        (london(2026, 3, 27, 9), london(2026, 3, 31, 9), london(2026, 4, 2, 9)),
    ],
)
def test_chase_and_escalation_count_working_days_on_the_calendar(
    sent: datetime, chase: datetime, escalate: datetime
) -> None:
    chase_at, escalate_at = chase_and_escalation_times(EASTER_2026, WORKING_DAYS, sent.astimezone(UTC))
    assert (chase_at, escalate_at) == (chase.astimezone(UTC), escalate.astimezone(UTC))
    assert chase_at.tzinfo is UTC


def test_the_demo_site_counts_minutes() -> None:
    sent = datetime(2026, 3, 7, 10, tzinfo=UTC)  # a Saturday: minutes ignore the calendar
    timings = ReferralTimings(chase_after=6, escalate_after=12, unit="minutes")
    assert chase_and_escalation_times(EASTER_2026, timings, sent) == (
        sent + timedelta(minutes=6),
        sent + timedelta(minutes=12),
    )


# --- on a case ---------------------------------------------------------------------------------------


def sent_referral() -> tuple[Case, str]:
    case = Case(make_site())
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    case.complete(TaskKind.REFERRAL_DECISION, referral_decision(ServiceType.HOUSING))
    [referral] = case.state.referrals
    assert case_referral_times(case.state, case.site) == []  # drafted: not sent, nothing to chase yet
    case.advance(minutes=3)
    case.send(RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral.referral_id, channel="email"))
    return case, referral.referral_id


def test_a_sent_referral_waits_for_its_chase_then_its_escalation() -> None:
    case, referral_id = sent_referral()
    [times] = case_referral_times(case.state, case.site)
    sent_at = case.state.referrals[0].sent_at
    assert sent_at is not None and times.sent_at == sent_at
    assert (times.chase_at, times.escalate_at) == chase_and_escalation_times(
        case.site.calendar, case.site.referral_timings, sent_at
    )
    assert times.referral_id == referral_id and times.next_step == "chase"

    case.now = times.chase_at
    case.send(ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    [times] = case_referral_times(case.state, case.site)
    assert times.next_step == "escalation"

    case.now = times.escalate_at
    case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    [times] = case_referral_times(case.state, case.site)
    assert times.next_step is None  # escalated: nothing more is waited for


def test_an_answered_referral_waits_for_nothing_but_keeps_its_times() -> None:
    case, referral_id = sent_referral()
    [before] = case_referral_times(case.state, case.site)
    answer = RecordReferralOutcome(actor=LINK_WORKER, referral_id=referral_id, status=ReferralStatus.ACCEPTED)
    case.send(answer)
    [after] = case_referral_times(case.state, case.site)
    assert after.next_step is None and (after.chase_at, after.escalate_at) == (before.chase_at, before.escalate_at)


def test_closing_the_case_stops_the_chasing() -> None:
    case, _ = sent_referral()
    case.send(CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.OTHER)))
    [times] = case_referral_times(case.state, case.site)
    assert times.next_step is None
    assert referral_times(case.state.referrals[0], case.site, case_open=True) is not None
