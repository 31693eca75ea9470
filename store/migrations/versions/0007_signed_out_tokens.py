"""Signed-out sign-ins: the id of each token whose holder signed out, until it expires.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "signed_out_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_signed_out_tokens_expires_at", "signed_out_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("signed_out_tokens")
