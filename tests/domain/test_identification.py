"""When it happened, not when it was typed (issue 17): a case records when the person was identified
apart from when it was entered, and the screening SLA counts from identification. Each refusal by its
rule id, with the case unchanged."""

from datetime import datetime, timedelta

import pytest

from domain.commands import OpenCase
from domain.deadlines import commands_due
from domain.errors import Rule
from domain.events import CaseOpened, TaskBecameOverdue, TaskOpened
from domain.model import AgeBand, Person
from domain.plaintext import check_opening
from domain.sla import add_service_minutes
from domain.tasks import TaskKind
from tests.domain.support import NOW, Case, consent_given, make_site, open_case
from tests.domain.test_age import refused_by

SITE = make_site()
SLA = timedelta(minutes=SITE.sla_minutes(TaskKind.CONSENT, open_case().setting))


def identified(at: datetime, born: str | None = None) -> OpenCase:
    person = Person(date_of_birth=born)
    band = None if born else AgeBand.ADULT
    return open_case().model_copy(update={"identified_at": at, "person": person, "age_band": band})


def test_an_alert_entered_late_keeps_both_times_and_the_sla_counts_from_identification() -> None:
    case = Case(SITE)
    arrival = NOW - timedelta(hours=4, minutes=30)  # arrived 05:30, entered at 10:00
    events = case.send(check_opening(identified(arrival), NOW.date()))
    opened, consent = events[0], events[2]
    assert isinstance(opened, CaseOpened) and opened.identified_at == arrival
    assert case.envelopes[0].occurred_at == NOW  # when it was recorded
    assert (case.state.identified_at, case.state.opened_at) == (arrival, NOW)
    assert isinstance(consent, TaskOpened)
    assert consent.task.due_at == add_service_minutes(SITE.operating_hours, arrival, int(SLA.total_seconds() // 60))
    assert consent.task.due_at < NOW + SLA  # not from when it was typed

    # Screening keeps the deadline consent started with: both count from identification.
    case.complete(TaskKind.CONSENT, consent_given())
    assert case.task(TaskKind.SCREENING).due_at == consent.task.due_at


def test_an_sla_already_past_at_entry_opens_the_task_overdue() -> None:
    case = Case(SITE)
    events = case.send(identified(NOW - SLA - timedelta(minutes=5)))
    [overdue] = [e for e in events if isinstance(e, TaskBecameOverdue)]
    consent = case.task(TaskKind.CONSENT)
    assert overdue.task_id == consent.task_id and consent.overdue and case.state.overdue
    assert consent.remind_at is None  # a reminder before a time already gone is never sent
    assert not any(type(c).__name__ == "MarkOverdue" for c in commands_due(case.state, NOW))


def test_an_sla_not_yet_past_opens_the_task_on_time() -> None:
    case = Case(SITE)
    events = case.send(identified(NOW - SLA + timedelta(minutes=5)))
    assert not any(isinstance(e, TaskBecameOverdue) for e in events)
    assert not case.task(TaskKind.CONSENT).overdue


def test_no_identification_time_means_now() -> None:
    case = Case(SITE)
    case.send(open_case())
    assert case.state.identified_at == case.state.opened_at == NOW
    [opened] = [e.event for e in case.envelopes if isinstance(e.event, CaseOpened)]
    assert isinstance(opened, CaseOpened) and opened.identified_at is None


def test_an_identification_in_the_future_is_refused() -> None:
    case = Case(SITE)
    refused_by(case, lambda: case.send(identified(NOW + timedelta(minutes=1))), Rule.IDENTIFIED_IN_FUTURE)


@pytest.mark.parametrize(("hours_back", "accepted"), [(71, True), (72, True), (73, False)])
def test_an_identification_further_back_than_the_sites_window_is_refused(hours_back: int, accepted: bool) -> None:
    assert SITE.identification_window_hours == 72
    case = Case(SITE)
    command = identified(NOW - timedelta(hours=hours_back))
    if accepted:
        case.send(command)
        assert case.state.identified_at == NOW - timedelta(hours=hours_back)
        return
    refusal = refused_by(case, lambda: case.send(command), Rule.IDENTIFIED_TOO_LONG_AGO)
    assert "72 hours" in refusal.message


def test_an_identification_before_the_person_was_born_is_refused() -> None:
    case = Case(SITE)
    born = (NOW + timedelta(days=1)).date().isoformat()  # "born" tomorrow, identified yesterday
    command = identified(NOW - timedelta(days=1), born=born)
    later = (NOW + timedelta(days=2)).date()  # entered when the date of birth is no longer in the future
    refused_by(case, lambda: check_opening(command, later), Rule.BORN_AFTER_IDENTIFICATION)


def test_the_age_band_is_judged_on_the_day_of_identification() -> None:
    """18 today, but arrived in custody last night at 17: a child's case."""
    case = Case(SITE)
    born = NOW.date().replace(year=NOW.year - 18).isoformat()
    case.send(check_opening(identified(NOW - timedelta(hours=12), born=born), NOW.date()))
    assert case.state.age_band is AgeBand.CHILD
