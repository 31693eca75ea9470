"""Each person's data key, wrapped by a master key, and its shredding.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("master_key_id", sa.String(64), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("shredded_at", UtcDateTime, nullable=True),
        sa.Column("shredded_by", sa.String(64), nullable=True),
        sa.Column("shred_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_person_keys_case_id", "person_keys", ["case_id"])


def downgrade() -> None:
    op.drop_table("person_keys")
