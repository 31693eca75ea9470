"""Repeat contacts (issue 19): a person's episodes in the order they opened, for the service report
(domain/reporting.py) and the monthly data return (domain/data_return.py).

A contact is an L&D episode, opened by CaseOpened (one episode per person per justice contact). A
RECONNECT episode opened by a hand-off continues a contact already counted, so it is not another one.
An episode's person is the one its events give as at a moment: CaseOpened's `person_id`, then each
PersonLinked and PersonUnlinked, as domain/state.py folds them. An episode opened before people were
kept (no `person_id`) is its own person, keyed by its case id. Pure: no I/O, no clock."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.events import CaseOpened, EventEnvelope, PersonLinked, PersonUnlinked


@dataclass(frozen=True, order=True)
class Contact:
    """One episode's opening: when, which case, whose (the person key of `person_key`)."""

    opened_at: datetime
    case_id: str
    person: str


@dataclass(frozen=True)
class Earlier:
    """The same person's episodes opened before one: how many, and the latest of them."""

    count: int
    latest: Contact | None


def person_key(case_id: str, person_id: str | None) -> str:
    """The key a person's episodes are grouped by: their person id, or for an episode opened before
    people were kept, its own case id."""
    return person_id or case_id


def contact_of(stream: Sequence[EventEnvelope], until: datetime) -> Contact | None:
    """The episode's opening and its person from the events that occurred before `until`; None if it
    was not opened by then or is not an L&D episode."""
    opening: EventEnvelope | None = None
    own: str | None = None
    person: str | None = None
    for envelope in sorted(stream, key=lambda e: e.seq):
        if envelope.occurred_at >= until:
            continue
        match envelope.event:
            case CaseOpened(person_id=person_id):
                opening, own, person = envelope, person_id, person_id
            case PersonLinked(person_id=person_id):
                person = person_id
            case PersonUnlinked():
                person = own
    if opening is None:
        return None
    return Contact(opened_at=opening.occurred_at, case_id=opening.case_id, person=person_key(opening.case_id, person))


def earlier_contacts(contacts: Iterable[Contact]) -> dict[str, Earlier]:
    """For each episode (by case id), the same person's episodes opened before it. Two opened at the
    same instant are taken in case id order, so each person's episodes are in one order."""
    people: defaultdict[str, list[Contact]] = defaultdict(list)
    for contact in sorted(contacts):
        people[contact.person].append(contact)
    return {
        contact.case_id: Earlier(count=number, latest=episodes[number - 1] if number else None)
        for episodes in people.values()
        for number, contact in enumerate(episodes)
    }
