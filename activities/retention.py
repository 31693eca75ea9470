"""The end of retention: finding closed records whose retention period has ended, and shredding them.

Only ids, record classes and counts leave these activities: the date of birth a child's retention
depends on is opened here, used, and never returned (a "kept until the 25th birthday" date would
give it away)."""

from datetime import date, datetime

from pydantic import BaseModel, Field
from temporalio import activity

from domain.config import RetentionConfig
from domain.errors import RuleViolation
from domain.model import SYSTEM_ACTOR
from domain.retention import RecordClass, Retention, retention_of, with_other_episodes
from domain.state import CaseState
from domain.timeline import UK
from store.event_store import EventStore
from store.person_index import PersonIndex
from store.person_keys import PersonKeys
from store.sealing import Sealer
from store.shredding import shred_person


class FindExpiredInput(BaseModel):
    as_of: datetime
    after_case_id: str | None = Field(default=None, description="The page after this case id")
    limit: int = Field(ge=1, le=1000)


class ExpiredRecord(BaseModel):
    case_id: str
    person_id: str
    record_classes: tuple[RecordClass, ...]


class RecordForReview(BaseModel):
    """A record retention left alone, and why a person should look at it."""

    case_id: str
    reason: str


class RetentionPage(BaseModel):
    examined: int
    expired: list[ExpiredRecord]
    for_review: list[RecordForReview]
    next_after: str | None = Field(description="Where the next page starts; None after the last page")


class ShredExpiredInput(BaseModel):
    records: list[ExpiredRecord]


class ShredExpiredResult(BaseModel):
    shredded: list[str] = Field(description="Case ids whose person's data key is gone (now or just before)")
    refused: list[RecordForReview]


class RetentionActivities:
    def __init__(self, store: EventStore, keys: PersonKeys, config: RetentionConfig) -> None:
        self._store = store
        self._keys = keys
        self._sealer = Sealer(keys)
        self._config = config

    @activity.defn(name="find_expired_records")
    async def find_expired_records(self, input: FindExpiredInput) -> RetentionPage:
        """One page of closed cases still holding personal data, sorted into expired and for review."""
        candidates = await self._keys.closed_cases_with_keys(input.after_case_id, input.limit)
        today = input.as_of.astimezone(UK).date()
        expired: list[ExpiredRecord] = []
        for_review: list[RecordForReview] = []
        for case_id, person_id in candidates:
            activity.heartbeat(case_id)
            state = await self._store.case_state(case_id)
            retention = retention_of(state, await self._date_of_birth(state, person_id), self._config)
            retention = with_other_episodes(retention, await self._other_episodes(state))
            if retention.review_reason is not None:
                for_review.append(RecordForReview(case_id=case_id, reason=retention.review_reason))
            elif retention.expired_on(today):
                expired.append(
                    ExpiredRecord(case_id=case_id, person_id=person_id, record_classes=retention.record_classes)
                )
        next_after = candidates[-1][0] if len(candidates) == input.limit else None
        return RetentionPage(examined=len(candidates), expired=expired, for_review=for_review, next_after=next_after)

    @activity.defn(name="shred_expired_records")
    async def shred_expired_records(self, input: ShredExpiredInput) -> ShredExpiredResult:
        """Shred each record's person. Each shred is idempotent, so a retried activity repeats
        nothing; a record the rules refuse is reported, not retried."""
        shredded: list[str] = []
        refused: list[RecordForReview] = []
        for record in input.records:
            activity.heartbeat(record.case_id)
            classes = ", ".join(record.record_classes)
            reason = f"retention period ended ({classes} record)"
            try:
                await shred_person(self._store, self._keys, record.person_id, SYSTEM_ACTOR, reason)
            except RuleViolation as refusal:
                refused.append(RecordForReview(case_id=record.case_id, reason=refusal.message))
                continue
            shredded.append(record.case_id)
            activity.logger.info("personal data shredded at the end of retention", extra={"case_id": record.case_id})
        return ShredExpiredResult(shredded=shredded, refused=refused)

    async def _other_episodes(self, state: CaseState) -> list[Retention | None]:
        """The retention of the person's other episodes not yet shredded (None: one still open). A
        RECONNECT episode, which holds no personal data of its own, counts as well."""
        if state.person_id is None:
            return []
        others: list[Retention | None] = []
        for case_id in await PersonIndex(self._store.engine).episodes_of(state.person_id):
            other = await self._store.case_state(case_id)
            if case_id == state.case_id or other.personal_data_shredded_at is not None:
                continue
            if other.closed_at is None:
                others.append(None)
                continue
            own_key = await self._keys.person_of(case_id)
            born = None if own_key is None else await self._date_of_birth(other, own_key)
            others.append(retention_of(other, born, self._config))
        return others

    async def _date_of_birth(self, state: CaseState, person_id: str) -> date | None:
        opened = (await self._sealer.open(state.person, person_id)).model.date_of_birth
        try:
            return None if opened is None else date.fromisoformat(opened)
        except ValueError:  # withheld or unreadable: no date to go by, so the record is kept for review
            return None
