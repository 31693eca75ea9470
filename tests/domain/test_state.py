"""The case state is a total, pure fold over the case's events."""

from datetime import timedelta

import pytest

from domain.commands import MarkOverdue
from domain.config import SiteConfig
from domain.events import (
    CaseClosed,
    ConsentRecorded,
    ConsentWithdrawn,
    DomainEvent,
    EventEnvelope,
    SafeguardingOverrideRecorded,
    StageEntered,
    StoredEvent,
    TaskBecameOverdue,
    TaskCancelled,
    TaskClaimed,
    TaskCompleted,
)
from domain.model import SYSTEM_ACTOR, Stage
from domain.outcomes import ClosureReason, ConsentScope, LawfulBasis, Recipient, ServiceType
from domain.state import CaseState, apply, empty_state, fold
from domain.stream import apply_all, envelop
from domain.tasks import TaskKind, TaskStatus
from tests.domain.support import (
    NOW,
    PRACTITIONER,
    Case,
    Ids,
    assessment,
    closure,
    consent_given,
    disclosure,
    open_case,
    referral_decision,
    screening,
    share,
)


@pytest.fixture
def journey(site: SiteConfig) -> Case:
    """A case taken all the way to closure, with a claim and an overdue task on the way."""
    case = Case(site)
    case.send(open_case())
    case.claim(TaskKind.CONSENT, PRACTITIONER)
    case.advance(hours=3)
    case.send(MarkOverdue(actor=SYSTEM_ACTOR, task_id=case.task(TaskKind.CONSENT).task_id))
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening())
    case.complete(TaskKind.ASSESSMENT, assessment())
    case.complete(TaskKind.SHARE_INFORMATION, share(disclosure(Recipient.COURT)))
    case.complete(TaskKind.REFERRAL_DECISION, referral_decision(ServiceType.HOUSING))
    case.complete(TaskKind.CLOSURE, closure())
    return case


def envelope(state: CaseState, event: DomainEvent, seq: int | None = None) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"e-{seq or state.version + 1}",
        case_id=state.case_id,
        seq=seq or state.version + 1,
        occurred_at=NOW,
        actor=SYSTEM_ACTOR,
        event=event,
    )


def test_fold_of_nothing_is_the_empty_state() -> None:
    state = fold("case-9", [])
    assert state == empty_state("case-9")
    assert state.version == 0
    assert state.stage is None
    assert not state.is_open
    assert state.open_tasks == []
    assert state.next_due is None


def test_fold_equals_incremental_apply(journey: Case) -> None:
    envelopes = journey.envelopes
    assert fold("case-1", envelopes) == journey.state
    incremental = empty_state("case-1")
    for env in envelopes:
        incremental = apply(incremental, env)
    assert incremental == journey.state
    assert journey.state.stage is Stage.CLOSED


def test_fold_of_a_prefix_then_the_rest_equals_the_whole_fold(journey: Case) -> None:
    envelopes = journey.envelopes
    whole = fold("case-1", envelopes)
    for cut in range(len(envelopes) + 1):
        resumed = apply_all(fold("case-1", envelopes[:cut]), envelopes[cut:])
        assert resumed == whole, cut
        assert fold("case-1", envelopes[:cut]).version == (envelopes[cut - 1].seq if cut else 0)


def test_state_survives_a_json_round_trip(journey: Case) -> None:
    # Workflows continue-as-new with a state snapshot; it must come back identical.
    for cut in range(len(journey.envelopes) + 1):
        state = fold("case-1", journey.envelopes[:cut])
        assert CaseState.model_validate_json(state.model_dump_json()) == state


def test_envelopes_survive_a_json_round_trip(journey: Case) -> None:
    for env in journey.envelopes:
        again = EventEnvelope.model_validate_json(env.model_dump_json())
        assert again == env
        assert type(again.event) is type(env.event)


def test_stored_event_is_an_envelope_with_chain_fields(journey: Case) -> None:
    env = journey.envelopes[0]
    stored = StoredEvent(**env.model_dump(), recorded_at=NOW, prev_hash="0" * 64, hash="f" * 64)
    assert stored.event == env.event
    assert fold("case-1", [stored, *journey.envelopes[1:]]) == journey.state


@pytest.mark.parametrize(
    "event",
    [
        TaskClaimed(task_id="ghost", assignee="prac-1"),
        TaskCompleted(task_id="ghost"),
        TaskCancelled(task_id="ghost", reason="case closed"),
        TaskBecameOverdue(task_id="ghost"),
    ],
)
def test_events_about_unknown_tasks_change_nothing_but_the_version(opened: Case, event: DomainEvent) -> None:
    before = opened.state
    after = apply(before, envelope(before, event))
    assert after.version == before.version + 1
    assert after.tasks == before.tasks
    assert "ghost" not in after.tasks
    assert after.model_copy(update={"version": before.version}) == before


def test_fold_is_total_even_for_a_stream_that_starts_oddly() -> None:
    # Events the rules would never produce in this order still fold without an error.
    state = empty_state("odd")
    events: list[DomainEvent] = [
        TaskCompleted(task_id="ghost"),
        StageEntered(stage=Stage.REFERRAL, previous=None),
        ConsentWithdrawn(reason="before anything"),
        CaseClosed(reason=ClosureReason.RECORD_MADE_IN_ERROR),
    ]
    for event in events:
        state = apply(state, envelope(state, event))
    assert state.version == 4
    assert state.stage is Stage.CLOSED
    assert state.consent == "withdrawn"
    assert state.close_reason is ClosureReason.RECORD_MADE_IN_ERROR
    assert state.tasks == {}


def test_apply_never_mutates_its_input(opened: Case) -> None:
    before = opened.state
    snapshot = before.model_copy(deep=True)
    task_id = opened.task(TaskKind.CONSENT).task_id
    after = apply(before, envelope(before, TaskCompleted(task_id=task_id)))
    assert before == snapshot
    assert before.tasks[task_id].status is TaskStatus.OPEN
    assert after.tasks[task_id].status is TaskStatus.COMPLETED
    assert after.tasks[task_id].closed_by == SYSTEM_ACTOR.staff_id


def test_consent_events_set_and_clear_scope() -> None:
    state = empty_state("c")
    state = apply(state, envelope(state, ConsentRecorded(decision="given", scope=(ConsentScope.ASSESSMENT,))))
    assert state.consent == "given"
    assert state.consent_scope == (ConsentScope.ASSESSMENT,)
    assert state.may_proceed_without_consent
    state = apply(state, envelope(state, ConsentWithdrawn(reason="changed mind")))
    assert state.consent == "withdrawn"
    assert state.consent_scope == ()
    assert not state.may_proceed_without_consent


def test_derived_properties_follow_the_open_tasks(opened: Case) -> None:
    consent_task = opened.task(TaskKind.CONSENT)
    assert opened.state.is_open
    assert opened.state.next_due == consent_task.due_at
    assert not opened.state.overdue
    state = apply(opened.state, envelope(opened.state, TaskBecameOverdue(task_id=consent_task.task_id)))
    assert state.overdue
    state = apply(state, envelope(state, TaskCancelled(task_id=consent_task.task_id, reason="test")))
    assert not state.overdue  # only open tasks count
    assert state.next_due is None
    assert state.tasks[consent_task.task_id].status is TaskStatus.CANCELLED


def test_envelop_numbers_on_from_the_version(opened: Case) -> None:
    ids = Ids("evt")
    at = NOW + timedelta(minutes=5)
    events: list[DomainEvent] = [
        ConsentRecorded(decision="declined"),
        CaseClosed(reason=ClosureReason.CONSENT_DECLINED),
    ]
    envelopes = envelop(opened.state, events, PRACTITIONER, at, ids)
    assert [e.seq for e in envelopes] == [opened.state.version + 1, opened.state.version + 2]
    assert [e.event_id for e in envelopes] == ["evt-1", "evt-2"]
    assert all(e.case_id == "case-1" and e.actor == PRACTITIONER and e.occurred_at == at for e in envelopes)
    assert [e.event for e in envelopes] == events
    assert envelop(opened.state, [], PRACTITIONER, at, ids) == []
    assert ids.count == 2


def test_fold_uses_the_case_id_it_is_given(journey: Case) -> None:
    assert fold("another", journey.envelopes).case_id == "another"
    assert fold("another", journey.envelopes).model_copy(update={"case_id": "case-1"}) == journey.state


def test_safeguarding_override_is_folded(opened: Case) -> None:
    state = apply(
        opened.state,
        envelope(
            opened.state,
            SafeguardingOverrideRecorded(lawful_basis=LawfulBasis.SAFEGUARDING, justification="risk to a child"),
        ),
    )
    assert state.safeguarding_override
    assert state.may_proceed_without_consent
    assert state.consent == "not_asked"
