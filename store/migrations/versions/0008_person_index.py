"""The person index (issue 19): episodes grouped into people. `cases.person_id` names an episode's
person once it is linked; `person_index` holds the blind index's digests, one row per (basis, digest,
episode), looked up by (basis, digest) and deleted by episode when a person is shredded.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("person_id", sa.String(64), nullable=True))
        batch.create_index("ix_cases_person_id", ["person_id"])
    op.create_table(
        "person_index",
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("basis", "digest", "case_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_person_index_case_id", "person_index", ["case_id"])


def downgrade() -> None:
    op.drop_table("person_index")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_person_id")
        batch.drop_column("person_id")
