"""The access audit: who read or changed a case, when and why.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("access_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("break_glass", sa.Boolean, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_access_log_case_id", "access_log", ["case_id"])


def downgrade() -> None:
    op.drop_table("access_log")
