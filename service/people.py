"""People's personal data as a whole: crypto-shredding a person (admins), through the service like
every other change, so the reason is sealed at the edge like everything else someone writes."""

from dataclasses import dataclass

from domain.access import Action, Principal, require_allowed
from domain.errors import Rule, RuleViolation
from service.cases import CaseService, Written
from store.person_keys import PersonKeys, PersonUnknown, ShredResult
from store.shredding import shred_person

SHRED_REASON_CHARACTERS = (3, 500)


@dataclass
class People:
    cases: CaseService
    keys: PersonKeys

    async def shred(self, principal: Principal, person_or_case: str, reason: str) -> ShredResult:
        """Destroy the person's data key (`person-...`, or the person of `case-...`). The reason is kept
        in the case's record sealed with that key, so it is unreadable from this moment too: it may
        name the person."""
        require_allowed(principal.actor, Action.SHRED_PERSONAL_DATA)
        reason = reason.strip()
        shortest, longest = SHRED_REASON_CHARACTERS
        if not shortest <= len(reason) <= longest:
            raise RuleViolation(
                Rule.INVALID_INPUT, f"give the reason for shredding in {shortest} to {longest} characters"
            )
        person_id = await self._person(person_or_case)
        try:
            case_id, shredded_at = await self.keys.status(person_id)
        except PersonUnknown as unknown:
            raise RuleViolation(Rule.PERSON_UNKNOWN, str(unknown)) from None
        if shredded_at is None:
            reason = (await self.cases.sealer.seal(Written(text=reason), person_id, case_id)).text
        return await shred_person(self.cases.gateway.store, self.keys, person_id, principal.actor, reason)

    async def _person(self, person_or_case: str) -> str:
        if not person_or_case.startswith("case-"):
            return person_or_case
        person_id = await self.keys.person_of(person_or_case)
        if person_id is None:
            raise RuleViolation(Rule.PERSON_UNKNOWN, f"there is no personal data for case {person_or_case}")
        return person_id
