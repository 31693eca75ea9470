"""Tables of the event store and its projections (the current shape; migrations/ builds it)."""

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which has no time zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_role", String(32), nullable=False),
    # The canonical JSON of the whole stored event (payload included); the hash covers exactly this text.
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("site", String(40), nullable=False),
    Column("setting", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("age_band", String(16), nullable=False),
    Column("cohorts", String(200), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("close_reason", String(40), nullable=True),
    Column("justice_outcome", String(60), nullable=True),
    Column("overdue", Boolean, nullable=False),
    Column("next_due", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # The person this episode belongs to (issue 19), once the projector links it; NULL for the older
    # episodes, whose person is the holder of their own data key (person_keys.case_id).
    Column("person_id", String(64), nullable=True, index=True),
    Index("ix_cases_site_stage", "site", "stage"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("site", String(40), nullable=False),
    Column("candidate_roles", String(200), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignee", String(64), nullable=True),
    Column("overdue", Boolean, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(64), nullable=True),
    Index("ix_tasks_site_status_due", "site", "status", "due_at"),
)

# Who read or changed which case, when and why (the access audit), one hash chain per case like
# the events (store/access_log.py): `body` is the canonical JSON of the row's other columns, the
# exact text its hash covers after the previous row's hash.
access_log = Table(
    "access_log",
    metadata,
    Column("access_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("staff_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    # Text: a purpose may be stored sealed with the person's key, which is long.
    Column("purpose", Text, nullable=False),
    Column("break_glass", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_access_log_case_seq"),
)

# Messages to staff (reminders, escalations). Not case events: the event that caused each one
# (ReminderSent, TaskEscalated) is in the stream and its id is the notification id.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("task_id", String(36), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
)

# Each person's data key, wrapped by a master key (envelope encryption). Shredding a person deletes
# the wrapped key: every value sealed with it, in the events and in Temporal histories, is then
# unreadable, while the events themselves (and so the hash chain) are untouched.
person_keys = Table(
    "person_keys",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("master_key_id", String(64), nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("shredded_at", UtcDateTime, nullable=True),
    Column("shredded_by", String(64), nullable=True),
    # No longer written (NULL): a reason may name the person. It is kept in the case's
    # PersonalDataShredded event instead.
    Column("shred_reason", Text, nullable=True),
)

# The blind index of people (store/person_index.py): one row per (basis, digest, episode), each digest
# a keyed hash of the person's normalised details (domain/person_match.py), stored as its 32 raw bytes
# (half the hex). No rowid on SQLite: the primary key's b-tree is the table, so a row is kept once.
person_index = Table(
    "person_index",
    metadata,
    Column("basis", String(16), primary_key=True),
    Column("digest", LargeBinary(32), primary_key=True),
    Column("case_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Index("ix_person_index_case_id", "case_id"),
    sqlite_with_rowid=False,
)

# Signed checkpoints (store/checkpoints.py): every stream's head at a moment, signed, so a later
# verification proves nothing up to those heads changed. `document` is the signed JSON as exported.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("checkpoint_id", String(36), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("created_by", String(64), nullable=False),
    Column("key_fingerprint", String(64), nullable=False),
    Column("streams", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

# Sign-ins ended by signing out (store/sign_outs.py): the token's id until it would have expired.
signed_out_tokens = Table(
    "signed_out_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
