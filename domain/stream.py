"""Turning decided events into envelopes of a case stream: numbered, timed, attributed."""

from collections.abc import Callable, Sequence
from datetime import datetime

from domain.events import DomainEvent, EventEnvelope
from domain.model import Actor
from domain.state import CaseState, apply


def envelop(
    state: CaseState,
    events: Sequence[DomainEvent],
    actor: Actor,
    occurred_at: datetime,
    new_id: Callable[[], str],
) -> list[EventEnvelope]:
    """Envelopes for `events`, numbered on from the state's version."""
    return [
        EventEnvelope(
            event_id=new_id(),
            case_id=state.case_id,
            seq=state.version + offset,
            occurred_at=occurred_at,
            actor=actor,
            event=event,
        )
        for offset, event in enumerate(events, start=1)
    ]


def apply_all(state: CaseState, envelopes: Sequence[EventEnvelope]) -> CaseState:
    for envelope in envelopes:
        state = apply(state, envelope)
    return state
