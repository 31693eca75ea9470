"""Crypto-shredding a person: their data key is destroyed, so every personal field of their case
(in the event store, in Temporal histories, in any export) is unreadable for good, while the
non-personal record and its hash chain stay whole. The shredding is itself an event of the case.

Only a closed case is shredded: its workflow has ended, so appending the event here does not race
the case's own writer. (A record made in error is closed with that reason first.)"""

import uuid
from datetime import UTC, datetime

from domain.errors import Rule, RuleViolation
from domain.events import EventEnvelope, PersonalDataShredded
from domain.model import Actor, Stage
from domain.state import CaseState
from store.event_store import EventStore
from store.person_index import PersonIndex
from store.person_keys import PersonKeys, PersonUnknown, ShredResult

SHRED_EVENT_NAMESPACE = uuid.UUID("3f1c9a52-6c1e-4a8e-9a57-6b2f0d1e5c11")


async def shred_person(
    store: EventStore, keys: PersonKeys, person_or_case: str, actor: Actor, reason: str
) -> ShredResult:
    """Shred the person (`person-...`) or the person of a case (`case-...`). The reason is recorded as
    given: the service seals what staff wrote (service/people.py); the retention job's is a code."""
    person_id = await _person(keys, person_or_case)
    try:
        case_id, shredded_at = await keys.status(person_id)
    except PersonUnknown as unknown:
        raise RuleViolation(Rule.PERSON_UNKNOWN, str(unknown)) from None
    # The index entries go with the key (and again on a repeat): a later episode matches nothing here.
    await PersonIndex(store.engine).forget([case_id])
    if shredded_at is not None:  # nothing changes, but what may be left on disk is cleared again
        return await keys.shred(person_id, actor.staff_id)
    state = await store.case_state(case_id)
    # The event first: if destroying the key then fails, running the command again finds the event
    # recorded and finishes the job.
    if state.personal_data_shredded_at is None:
        require_closed(state)
        envelope = EventEnvelope(
            event_id=str(uuid.uuid5(SHRED_EVENT_NAMESPACE, person_id)),
            case_id=case_id,
            seq=state.version + 1,
            occurred_at=datetime.now(UTC),
            actor=actor,
            event=PersonalDataShredded(person_id=person_id, reason=reason),
        )
        await store.append(case_id, [envelope])
    return await keys.shred(person_id, actor.staff_id)


def require_closed(state: CaseState) -> None:
    """Only a closed case is shredded (its workflow has ended: nothing else writes to it)."""
    if state.personal_data_shredded_at is None and state.stage is not Stage.CLOSED:
        raise RuleViolation(
            Rule.CASE_NOT_CLOSED,
            f"case {state.case_id} is at {state.stage}: close it first (e.g. as record_made_in_error)",
        )


async def _person(keys: PersonKeys, person_or_case: str) -> str:
    if not person_or_case.startswith("case-"):
        return person_or_case
    person_id = await keys.person_of(person_or_case)
    if person_id is None:
        raise RuleViolation(Rule.PERSON_UNKNOWN, f"there is no personal data for case {person_or_case}")
    return person_id
