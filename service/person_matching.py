"""Finding the person a new episode is of, through the blind index (domain/person_match.py): the
service asks it before the case opens, with the plaintext details it is about to seal, and adds the
episode's own entries once the case has opened (a refused start leaves none)."""

from collections.abc import Iterable
from dataclasses import dataclass

from domain.model import Person
from domain.person_match import AUTOMATIC, blind_keys
from store.keyring import KeyRing
from store.person_index import IndexHit, PersonIndex


@dataclass(frozen=True)
class PersonMatch:
    same_person_as: str | None  # an NHS number names exactly one person seen before
    possible_people: tuple[str, ...]  # for a practitioner to confirm or reject


@dataclass
class PersonMatcher:
    index: PersonIndex
    keys: KeyRing  # the index keys: the newest writes, every one is looked up (rotation: `pathway person reindex`)

    async def match(self, person: Person, own_person_id: str) -> PersonMatch:
        probes = [(each.basis, each.digest) for _, key in self.keys.keys for each in blind_keys(person, key)]
        hits = [hit for hit in await self.index.find(probes) if hit.person_id != own_person_id] if probes else []
        exact = _people(hit for hit in hits if hit.basis in AUTOMATIC)
        if len(exact) == 1:
            return PersonMatch(same_person_as=exact[0], possible_people=())
        # Two people with the same NHS number is a mistake somewhere: a practitioner sorts it out.
        ours = {digest for basis, digest in probes if basis in AUTOMATIC}
        weak = [hit for hit in hits if hit.basis in AUTOMATIC or not await self._other_number(hit.case_id, ours)]
        return PersonMatch(same_person_as=None, possible_people=_people(weak))

    async def _other_number(self, case_id: str, ours: set[str]) -> bool:
        """Whether the episode has an NHS number and it is not this person's: then it is someone else,
        whatever their name and date of birth."""
        if not ours:
            return False
        theirs = {digest for basis, digest, _ in await self.index.entries_of(case_id) if basis in AUTOMATIC}
        return bool(theirs) and not theirs & ours

    async def remember(self, case_id: str, person: Person) -> None:
        """Index the episode's person under the newest key (again after a date of birth is learnt)."""
        key_id, key = self.keys.keys[-1]
        await self.index.add(case_id, [(each.basis, each.digest) for each in blind_keys(person, key)], key_id)

    async def reindex(self, case_id: str, person: Person) -> None:
        """The episode's entries under the newest key only: after a key is added, the older can go."""
        await self.remember(case_id, person)
        await self.index.forget_other_keys(case_id, self.keys.current_id)


def _people(hits: Iterable[IndexHit]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hit.person_id for hit in hits))
