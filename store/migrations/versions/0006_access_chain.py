"""The access log becomes a hash chain per case (seq, body, prev_hash, hash; purpose as Text, long
enough for a sealed purpose), its existing rows chained in (case_id, at, access_id) order; and the
free-text shred reasons, which may name the person, are cleared from person_keys (the reason stays in
the case's PersonalDataShredded event).

Revision ID: 0006
Revises: 0005
"""

from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from alembic import op

from store.access_log import chained
from store.hashing import GENESIS_HASH
from store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"

# The new columns, (name, type): nullable until the existing rows are chained.
CHAIN_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("seq", sa.Integer()),
    ("body", sa.Text()),
    ("prev_hash", sa.String(64)),
    ("hash", sa.String(64)),
)

# The table as this migration finds it (not store.schema's, which may change after it).
access_log = sa.table(
    "access_log",
    sa.column("access_id", sa.String),
    sa.column("case_id", sa.String),
    sa.column("staff_id", sa.String),
    sa.column("role", sa.String),
    sa.column("action", sa.String),
    sa.column("purpose", sa.Text),
    sa.column("break_glass", sa.Boolean),
    sa.column("at", UtcDateTime),
    *(sa.column(name, type_) for name, type_ in CHAIN_COLUMNS),
)


def upgrade() -> None:
    with op.batch_alter_table("access_log") as batch:
        for name, type_ in CHAIN_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.alter_column("purpose", type_=sa.Text, existing_type=sa.String(500), existing_nullable=False)
    _chain_existing_rows()
    with op.batch_alter_table("access_log") as batch:
        for name, type_ in CHAIN_COLUMNS:
            batch.alter_column(name, nullable=False, existing_type=type_)
        batch.create_unique_constraint("uq_access_log_case_seq", ["case_id", "seq"])
    op.execute(sa.text("UPDATE person_keys SET shred_reason = NULL WHERE shred_reason IS NOT NULL"))


def _chain_existing_rows() -> None:
    """Each case's rows in the order they were recorded (by time; the id breaks ties), chained as
    `store.access_log.write_access` chains a new row."""
    bind = op.get_bind()
    c = access_log.c
    rows = bind.execute(sa.select(access_log).order_by(c.case_id, c.at, c.access_id)).mappings().all()
    updates: list[dict[str, Any]] = []
    for _, case_rows in groupby(rows, key=itemgetter("case_id")):
        prev_hash = GENESIS_HASH
        for seq, row in enumerate(case_rows, start=1):
            chain = chained(dict(row), seq, prev_hash)
            updates.append({"row_id": row["access_id"], **{f"new_{name}": value for name, value in chain.items()}})
            prev_hash = chain["hash"]
    if updates:
        values: dict[str, Any] = {name: sa.bindparam(f"new_{name}") for name, _ in CHAIN_COLUMNS}
        bind.execute(access_log.update().where(c.access_id == sa.bindparam("row_id")).values(values), updates)


def downgrade() -> None:
    """The chain columns go (the cleared shred reasons do not come back)."""
    with op.batch_alter_table("access_log") as batch:
        batch.drop_constraint("uq_access_log_case_seq", type_="unique")
        for name, _ in reversed(CHAIN_COLUMNS):
            batch.drop_column(name)
        batch.alter_column("purpose", type_=sa.String(500), existing_type=sa.Text, existing_nullable=False)
