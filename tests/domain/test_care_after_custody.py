"""A RECONNECT episode's own work once its release date is known (issue 17): engagement opens up to
12 weeks before release (at once if that has passed), the closure when support 6 months after release
ends; a release date that moves reschedules what has not opened. Refusals by rule id, the case
unchanged."""

from datetime import date, datetime, time, timedelta

from domain.commands import CloseCase, OpenScheduledTask, RecordReleaseDate
from domain.errors import Rule
from domain.events import ReconnectEngagementRecorded, ReleaseDateRecorded, TaskCancelled, TaskOpened, TaskScheduled
from domain.model import SYSTEM_ACTOR, Stage
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.tasks import TaskKind, TaskStatus
from domain.timeline import UK
from tests.domain.support import LINK_WORKER, NOW, PRACTITIONER, Case, closure, make_site, open_case, refused
from tests.domain.test_reconnect import opening, site


def episode() -> Case:
    case = Case(site())
    case.send(opening())
    return case


def uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UK)


def scheduled(case: Case, kind: TaskKind) -> list[datetime | None]:
    return [t.opens_at for t in case.state.tasks.values() if t.kind is kind and t.status is TaskStatus.SCHEDULED]


def test_a_release_months_away_schedules_engagement_12_weeks_before_and_closure_6_months_after() -> None:
    case = episode()
    release = date(2026, 7, 20)  # NOW is 2 March 2026
    events = case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=release))
    recorded = events[0]
    assert isinstance(recorded, ReleaseDateRecorded) and recorded.release_on == release
    assert recorded.engage_from == uk_midnight(date(2026, 4, 27))  # 12 weeks before
    assert recorded.support_until == uk_midnight(date(2027, 1, 20))  # 6 months after
    assert scheduled(case, TaskKind.RECONNECT_ENGAGEMENT) == [recorded.engage_from]
    assert scheduled(case, TaskKind.CLOSURE) == [recorded.support_until]
    assert case.state.care_after_custody is not None and case.state.care_after_custody.release_on == release


def test_a_release_within_12_weeks_opens_engagement_at_once() -> None:
    case = episode()
    events = case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date() + timedelta(weeks=4)))
    [engagement] = [e for e in events if isinstance(e, TaskOpened)]
    assert engagement.task.kind is TaskKind.RECONNECT_ENGAGEMENT and engagement.task.opened_at == NOW
    case.complete(TaskKind.RECONNECT_ENGAGEMENT, {"engaged": True, "note": "housing first"}, actor=LINK_WORKER)
    assert ReconnectEngagementRecorded(engaged=True) in [e.event for e in case.envelopes]
    assert case.state.care_after_custody is not None and case.state.care_after_custody.engaged is True


def test_a_release_date_that_moves_reschedules_what_has_not_opened() -> None:
    case = episode()
    case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date() + timedelta(weeks=30)))
    first = {t.task_id for t in case.state.tasks.values() if t.status is TaskStatus.SCHEDULED}
    later = NOW.date() + timedelta(weeks=40)
    events = case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=later))
    assert {e.task_id for e in events if isinstance(e, TaskCancelled)} == first
    assert scheduled(case, TaskKind.RECONNECT_ENGAGEMENT) == [uk_midnight(later - timedelta(weeks=12))]
    assert len([e for e in events if isinstance(e, TaskScheduled)]) == 2


def test_when_support_ends_the_closure_opens_and_the_episode_closes() -> None:
    case = episode()
    case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date()))
    [closing] = [t for t in case.state.tasks.values() if t.kind is TaskKind.CLOSURE]
    assert closing.opens_at is not None
    case.now = closing.opens_at + timedelta(minutes=1)
    case.send(OpenScheduledTask(actor=SYSTEM_ACTOR, task_id=closing.task_id))
    case.complete(TaskKind.CLOSURE, closure(ClosureReason.PATHWAY_COMPLETE))
    assert case.state.stage is Stage.CLOSED


def test_a_release_date_on_an_ld_case_or_before_the_episode_is_refused() -> None:
    ld = Case(make_site())
    ld.send(open_case())
    refusal = refused(ld, RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date()), Rule.NOT_A_RECONNECT_EPISODE)
    assert "RECONNECT episode" in refusal.message
    case = episode()
    before = RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date() - timedelta(days=1))
    refused(case, before, Rule.RELEASE_BEFORE_EPISODE)
    closed = episode()
    closed.send(CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.OTHER)))
    refused(closed, RecordReleaseDate(actor=PRACTITIONER, release_on=NOW.date()), Rule.CASE_NOT_OPEN)


def test_support_ending_on_a_day_the_month_lacks_ends_on_its_last_day() -> None:
    case = episode()
    [recorded, *_] = case.send(RecordReleaseDate(actor=PRACTITIONER, release_on=date(2026, 8, 31)))
    assert isinstance(recorded, ReleaseDateRecorded) and recorded.support_until == uk_midnight(date(2027, 2, 28))
