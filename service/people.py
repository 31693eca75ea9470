"""People across episodes: a person's episodes as a reader may see them ("seen before"), and
crypto-shredding (admins), through the service like every other change, so the reason is sealed at the
edge like everything else someone writes.

An episode at a site outside the reader's sites shows only that it exists (when, in which setting, at
"another service"); its case id leads to the break-glass read (service/cases.py `read_case`)."""

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from pydantic import BaseModel

from domain.access import Action, Principal, require_allowed
from domain.commands import LinkPerson, UnlinkPerson
from domain.decisions import DecisionContext
from domain.errors import Rule, RuleViolation
from domain.personal import PersonalStr
from domain.rules import decide
from domain.state import CaseState
from domain.stream import envelop
from domain.timeline import UK
from service.cases import CaseHandle, CaseService, Written
from store.access_log import AccessEntry
from store.person_index import PersonIndex
from store.person_keys import PersonKeys, PersonUnknown, ShredResult
from store.recorder import AppendConflict
from store.shredding import require_closed, shred_person

SHRED_REASON_CHARACTERS = (3, 500)


class Episode(BaseModel):
    """One episode of a person. Outside the reader's sites only `case_id`, `opened_on` and `setting`."""

    case_id: str
    in_scope: bool
    opened_on: date
    setting: str
    site: str | None = None
    programme: str | None = None
    stage: str | None = None
    open: bool | None = None
    needs: tuple[str, ...] = ()  # vulnerabilities the screening flagged and the assessment found
    referrals: tuple[str, ...] = ()  # "service: status"
    engaged: bool | None = None  # at a follow-up or a RECONNECT engagement; None: not known yet


class PersonView(BaseModel):
    person_id: str
    episodes: list[Episode]  # oldest first


class Candidate(BaseModel):
    """A person a match task suggests, as far as the reader may see them: initials and date of birth
    from their latest episode in the reader's sites, and every episode (outside them: that it exists)."""

    person_id: str
    initials: str
    date_of_birth: PersonalStr | None
    episodes: list[Episode]


@dataclass
class People:
    cases: CaseService
    keys: PersonKeys
    index: PersonIndex

    async def show(self, principal: Principal, person_or_case: str) -> PersonView:
        """The person (`person-...`, or the person of `case-...`) with their episodes. The reader must
        have one of the episodes in their sites; reading it is recorded on each episode they see."""
        require_allowed(principal.actor, Action.READ_CASE)
        person_id, states = await self.episodes(principal, person_or_case)
        for state in states:
            if principal.covers(state.site):
                await self.cases.record(principal, state.case_id, "read_person", f"episodes of {person_id}")
        return PersonView(person_id=person_id, episodes=[episode_of(s, principal.covers(s.site)) for s in states])

    async def episodes(self, principal: Principal, person_or_case: str) -> tuple[str, list[CaseState]]:
        """The person (`person-...`, or the person of `case-...`, which must be in the reader's sites)
        and every one of their episodes as stored (sealed), oldest first; refused as unknown unless one
        is in the reader's sites. Checks no role and records nothing: each caller does its own."""
        if person_or_case.startswith("case-"):
            state = await self.cases.gateway.state((await self.cases.in_scope(principal, person_or_case)).case_id)
            person_id = state.person_id or await self.keys.person_of(state.case_id)
        else:
            person_id = person_or_case
        case_ids = await self.index.episodes_of(person_id) if person_id else []
        states = [await self.cases.gateway.state(case_id) for case_id in case_ids]
        if person_id is None or not any(principal.covers(s.site) for s in states):
            raise RuleViolation(Rule.PERSON_UNKNOWN, f"there is no person {person_or_case} in your sites")
        return person_id, states

    async def candidates(self, principal: Principal, task_id: str) -> list[Candidate]:
        """The people a person-match task suggests, side by side (read as the task's case is read)."""
        detail = await self.cases.task(principal, task_id)
        return [await self._candidate(principal, p) for p in detail.case.tasks[detail.task.task_id].candidates]

    async def link(self, principal: Principal, case_id: str, command: LinkPerson) -> CaseState:
        """Link the episode to a person seen before, who must have an episode in the reader's sites."""
        await self.show(principal, command.person_id)
        return await self._change(principal, case_id, command)

    async def unlink(self, principal: Principal, case_id: str, command: UnlinkPerson) -> CaseState:
        return await self._change(principal, case_id, command)

    async def _change(self, principal: Principal, case_id: str, command: LinkPerson | UnlinkPerson) -> CaseState:
        try:
            return await self.cases.change_case(principal, case_id, command)
        except RuleViolation as refused:
            if refused.rule is not Rule.CASE_NOT_OPEN:
                raise
        return await self._change_closed(principal, case_id, command)

    async def _change_closed(self, principal: Principal, case_id: str, command: LinkPerson | UnlinkPerson) -> CaseState:
        """A closed episode's workflow has ended, so a link is corrected here: decided by the same rules
        and appended with its access row, as shredding appends (nothing else writes to a closed case)."""
        store = self.cases.gateway.store
        state = await store.current_state(case_id)
        sealed = await self.cases.sealed(case_id, command)
        now = datetime.now(UTC)
        context = DecisionContext(now=now, new_id=lambda: str(uuid.uuid4()), site=self.cases.config.site(state.site))
        envelopes = envelop(state, decide(state, sealed, context), command.actor, now, context.new_id)
        access = AccessEntry.of_change(case_id, command, now)
        try:
            await store.append(case_id, envelopes, access)
        except AppendConflict:
            raise RuleViolation(
                Rule.CASE_VERSION_CHANGED, f"case {case_id} changed at the same moment: read it again"
            ) from None
        return await self.cases.opened(principal, case_id, await store.current_state(case_id))

    async def _candidate(self, principal: Principal, person_id: str) -> Candidate:
        case_ids = await self.index.episodes_of(person_id)
        states = [await self.cases.gateway.state(case_id) for case_id in case_ids]
        readable = [s for s in states if principal.covers(s.site) and s.personal_data_shredded_at is None]
        handle = CaseHandle(name=None)
        date_of_birth = None
        if readable:
            latest = await self.cases.opened(principal, readable[-1].case_id, readable[-1])
            await self.cases.record(principal, latest.case_id, "read_person", "a possible previous contact")
            handle, date_of_birth = CaseHandle.of(latest), latest.person.date_of_birth
        return Candidate(
            person_id=person_id,
            initials=handle.initials,
            date_of_birth=date_of_birth,
            episodes=[episode_of(s, principal.covers(s.site)) for s in states],
        )

    async def reindex(self, principal: Principal) -> int:
        """Every episode's index entries made again under the newest index key (admins, after adding
        one), from its personal data as sealed; a shredded episode's are deleted. Returns how many
        episodes were indexed; then the older index keys can be removed."""
        require_allowed(principal.actor, Action.CONFIGURE)
        done = 0
        for case_id in await self.index.indexed_cases():
            state = await self.cases.gateway.state(case_id)
            if state.personal_data_shredded_at is not None or await self.keys.person_of(case_id) is None:
                await self.index.forget([case_id])
                continue
            opened = await self.cases.sealer.open_for_case(state, case_id)
            await self.cases.matcher.reindex(case_id, opened.person)
            done += 1
        return done

    async def seen_before(self, principal: Principal, case_id: str) -> list[Episode]:
        """The other episodes of this case's person (none for an episode no one has linked)."""
        view = await self.show(principal, case_id)
        return [episode for episode in view.episodes if episode.case_id != case_id]

    async def shred(self, principal: Principal, person_or_case: str, reason: str) -> ShredResult:
        """Destroy the data key of an episode (`case-...`), or of every episode of a person
        (`person-...`), and their entries in the person index: a later episode matches none of them.
        The reason is kept in each case's record sealed with its key, so it is unreadable from this
        moment too: it may name the person. Every episode must be closed first."""
        require_allowed(principal.actor, Action.SHRED_PERSONAL_DATA)
        reason = reason.strip()
        shortest, longest = SHRED_REASON_CHARACTERS
        if not shortest <= len(reason) <= longest:
            raise RuleViolation(
                Rule.INVALID_INPUT, f"give the reason for shredding in {shortest} to {longest} characters"
            )
        keyed = [await self._own_key(case_id) for case_id in await self._episodes(person_or_case)]
        for case_id, _ in keyed:  # all or none: refused before anything is destroyed
            require_closed(await self.cases.gateway.state(case_id))
        results = [await self._shred_episode(principal, case_id, person_id, reason) for case_id, person_id in keyed]
        first, *others = results
        return replace(first, other_cases=tuple(r.case_id for r in others))

    async def _episodes(self, person_or_case: str) -> list[str]:
        if person_or_case.startswith("case-"):
            return [person_or_case]
        episodes = [c for c in await self.index.episodes_of(person_or_case) if await self.keys.person_of(c)]
        if episodes:
            return episodes
        try:  # a person whose only episode opened before episodes were kept with their person
            case_id, _ = await self.keys.status(person_or_case)
        except PersonUnknown as unknown:
            raise RuleViolation(Rule.PERSON_UNKNOWN, str(unknown)) from None
        return [case_id]

    async def _own_key(self, case_id: str) -> tuple[str, str]:
        person_id = await self.keys.person_of(case_id)
        if person_id is None:
            raise RuleViolation(Rule.PERSON_UNKNOWN, f"there is no personal data for case {case_id}")
        return case_id, person_id

    async def _shred_episode(self, principal: Principal, case_id: str, person_id: str, reason: str) -> ShredResult:
        _, shredded_at = await self.keys.status(person_id)
        sealed = reason
        if shredded_at is None:
            sealed = (await self.cases.sealer.seal(Written(text=reason), person_id, case_id)).text
        return await shred_person(self.cases.gateway.store, self.keys, person_id, principal.actor, sealed)


def episode_of(state: CaseState, in_scope: bool) -> Episode:
    """The episode as a reader sees it: in full in their sites, else only that it exists."""
    assert state.opened_at is not None
    seen = Episode(
        case_id=state.case_id,
        in_scope=in_scope,
        opened_on=state.opened_at.astimezone(UK).date(),
        setting=str(state.setting),
    )
    if not in_scope:
        return seen
    screened = state.screening.domains if state.screening else []
    assessed = [v.domain for v in state.assessment.vulnerabilities] if state.assessment else []
    engaged = [f.engaged_with_services for f in state.follow_ups]
    if state.care_after_custody is not None and state.care_after_custody.engaged is not None:
        engaged.append(state.care_after_custody.engaged)
    return seen.model_copy(
        update={
            "site": state.site,
            "programme": state.programme,
            "stage": str(state.stage),
            "open": state.is_open,
            "needs": tuple(dict.fromkeys(str(need) for need in [*screened, *assessed])),
            "referrals": tuple(f"{r.request.service}: {r.status}" for r in state.referrals),
            "engaged": engaged[-1] if engaged else None,
        }
    )
