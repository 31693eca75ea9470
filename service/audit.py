"""What auditors read: a case's timeline (as it stands, or as it was known at any moment), a
person's whole story across their episodes as one timeline, and an export of the whole record for a
subject access request or a court.

Auditors only (`Action.AUDIT_CASE`), for cases of their sites; each read is itself written to the
access log, an export with the purpose the auditor gives (sealed with the person's key: it may name
them). Personal fields are opened for the auditor ("[shredded]" once the person's key is gone)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client

from domain.access import Action, Principal, require_allowed
from domain.errors import Rule, RuleViolation
from domain.events import StoredEvent
from domain.state import CaseState, fold
from domain.timeline import TimelineEntry, known_at, timeline_entry
from service.cases import AccessEntry, CaseService
from service.people import Episode, People, episode_of
from service.replay import ReplayInputError, ReplayOutcome, WorkflowCode, case_histories, replay_histories
from workflows.registry import WORKFLOWS

# How often an export reads a changing case before it gives up (each read takes milliseconds; a case
# changes a few times a day).
WHOLE_RECORD_READS = 5


class CaseTimeline(BaseModel):
    case_id: str
    as_of: datetime | None = Field(description="None: the record as it stands now")
    state: CaseState
    entries: list[TimelineEntry]


class StoryEntry(TimelineEntry):
    """One event of a person's story: which episode it is of, and what happened."""

    case_id: str


class PersonTimeline(BaseModel):
    """A person's episodes (outside the auditor's sites: only that they exist, at "another service")
    and the events of those in the auditor's sites, merged in the order they happened."""

    person_id: str
    episodes: list[Episode]
    entries: list[StoryEntry]


class AccessLogIntegrity(BaseModel):
    """Whether the case's access log proves itself: its own hash chain."""

    rows: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


class Integrity(BaseModel):
    """Whether the record proves itself, at the moment of the export."""

    events: int
    head_hash: str = Field(description="The hash of the last event: it commits to the whole stream")
    chain_ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    projection_differences: list[str]
    access_log: AccessLogIntegrity


class CaseExport(BaseModel):
    format: Literal["pathway-case-export"] = "pathway-case-export"
    version: Literal[1] = 1
    case_id: str
    generated_at: datetime
    generated_by: str
    purpose: str
    state: CaseState
    timeline: list[TimelineEntry]
    access_log: list[AccessEntry]
    integrity: Integrity


class _Record(BaseModel):
    state: CaseState
    events: list[StoredEvent]


@dataclass
class Audit:
    cases: CaseService
    client: Client  # the Temporal histories replayed
    people: People

    async def require_auditor(self, principal: Principal, case_id: str) -> None:
        """Refused unless an auditor of the case's site asks, as the timeline and the export are;
        records nothing (the web's export form checks this before it asks for the purpose)."""
        require_allowed(principal.actor, Action.AUDIT_CASE)
        await self.cases.in_scope(principal, case_id)

    async def timeline(self, principal: Principal, case_id: str, as_of: datetime | None = None) -> CaseTimeline:
        await self.require_auditor(principal, case_id)
        if as_of is not None and as_of.tzinfo is None:
            raise RuleViolation(Rule.INVALID_INPUT, "give as_of with its time zone (e.g. 2026-11-29T10:00:00Z)")
        record = await self._read(principal, case_id, as_of)
        purpose = "audit: timeline" + ("" if as_of is None else f" as of {as_of.isoformat()}")
        await self.cases.record(principal, case_id, "audit_timeline", purpose)
        entries = [timeline_entry(event) for event in record.events]
        return CaseTimeline(case_id=case_id, as_of=as_of, state=record.state, entries=entries)

    async def person_timeline(self, principal: Principal, person_or_case: str) -> PersonTimeline:
        """The person (`person-...`, or the person of `case-...`) as one story: every episode, and the
        events of those in the auditor's sites in time order, each naming its episode (a RECONNECT
        hand-off and the episode it opened read as one). The read is recorded on each episode read."""
        require_allowed(principal.actor, Action.AUDIT_CASE)
        person_id, states = await self.people.episodes(principal, person_or_case)
        entries: list[StoryEntry] = []
        for state in states:
            if principal.covers(state.site):
                record = await self._read(principal, state.case_id)
                await self.cases.record(principal, state.case_id, "audit_timeline", f"audit: story of {person_id}")
                entries.extend(
                    StoryEntry(case_id=state.case_id, **timeline_entry(event).model_dump()) for event in record.events
                )
        # Stable: events of one moment keep their episode's order (oldest episode first) and their own.
        entries.sort(key=lambda entry: entry.occurred_at)
        episodes = [episode_of(state, principal.covers(state.site)) for state in states]
        return PersonTimeline(person_id=person_id, episodes=episodes, entries=entries)

    async def export(self, principal: Principal, case_id: str, purpose: str) -> CaseExport:
        """The whole record: state, timeline, who accessed it, and whether it verifies."""
        require_allowed(principal.actor, Action.AUDIT_CASE)
        purpose = purpose.strip()
        if not 3 <= len(purpose) <= 200:
            raise RuleViolation(Rule.INVALID_INPUT, "give the purpose of the export (e.g. subject access request)")
        await self.cases.in_scope(principal, case_id)
        # Recorded before the access log is read, so the export lists itself.
        await self.cases.record(principal, case_id, "export", purpose, written=True)
        record, access_log, integrity = await self._whole_record(principal, case_id)
        return CaseExport(
            case_id=case_id,
            generated_at=datetime.now(UTC),
            generated_by=principal.staff_id,
            purpose=purpose,
            state=record.state,
            timeline=[timeline_entry(event) for event in record.events],
            access_log=access_log,
            integrity=integrity,
        )

    async def verify(self, principal: Principal, case_id: str) -> Integrity:
        """Recompute the case's hash chain and compare its projections with a fresh fold."""
        require_allowed(principal.actor, Action.VERIFY_RECORDS)
        await self.cases.in_scope(principal, case_id)
        integrity = await self._integrity(case_id)
        await self.cases.record(principal, case_id, "verify", "audit: verify the record")
        return integrity

    async def replay(self, principal: Principal, case_id: str) -> list[ReplayOutcome]:
        """Every Temporal history of the case (all runs, and its children) replayed against the
        current workflow code: a failure means this code could not carry the case on."""
        require_allowed(principal.actor, Action.VERIFY_RECORDS)
        await self.cases.in_scope(principal, case_id)
        client = self.client
        code = WorkflowCode(WORKFLOWS, client.data_converter)
        try:
            outcomes = [outcome async for outcome in replay_histories(case_histories(client, case_id), code)]
        except ReplayInputError as missing:  # a case of the store whose histories Temporal no longer keeps
            raise RuleViolation(Rule.NOT_AVAILABLE, str(missing)) from None
        await self.cases.record(principal, case_id, "replay", "audit: replay the workflow histories")
        return outcomes

    async def _read(self, principal: Principal, case_id: str, as_of: datetime | None = None) -> _Record:
        """The case's events (those recorded by `as_of`, if given) and their fold, opened for the
        reader: what people wrote reads as they wrote it, or "[shredded]"."""
        try:
            events = await self.cases.gateway.events(case_id)
        except ValidationError:
            raise RuleViolation(
                Rule.RECORD_ALTERED,
                f"an event of case {case_id} no longer reads as an event: the record was altered "
                "(pathway audit verify names the event)",
            ) from None
        if as_of is None:
            record = _Record(state=fold(case_id, events), events=events)
        else:
            known, state = known_at(case_id, events, as_of)
            record = _Record(state=state, events=known)
        return await self.cases.opened(principal, case_id, record)

    async def _whole_record(self, principal: Principal, case_id: str) -> tuple[_Record, list[AccessEntry], Integrity]:
        """The record, its access log and their integrity, read again until they agree. A live case
        changes while it is read (a timer's event, someone else's read): an export whose integrity
        counted more events or access rows than it holds would read as a record with parts missing.
        Both only grow, so equal counts are the same rows."""
        for _ in range(WHOLE_RECORD_READS):
            record = await self._read(principal, case_id)
            access_log = await self.cases.access_entries(principal, case_id)
            integrity = await self._integrity(case_id)
            if integrity.events == len(record.events) and integrity.access_log.rows == len(access_log):
                return record, access_log, integrity
        raise RuleViolation(
            Rule.CASE_CATCHING_UP, f"case {case_id} changed each time it was read for the export: try again in a moment"
        )

    async def _integrity(self, case_id: str) -> Integrity:
        store = self.cases.gateway.store
        chain = await store.verify_chain(case_id)
        access = await store.verify_access(case_id)
        return Integrity(
            events=chain.events,
            head_hash=chain.head_hash,
            chain_ok=chain.ok,
            first_bad_seq=chain.first_bad_seq,
            problem=chain.problem,
            # A fold of a broken chain proves nothing (and may not read at all).
            projection_differences=await store.projection_differences(case_id) if chain.ok else [],
            access_log=AccessLogIntegrity(
                rows=access.rows, ok=access.ok, first_bad_seq=access.first_bad_seq, problem=access.problem
            ),
        )
