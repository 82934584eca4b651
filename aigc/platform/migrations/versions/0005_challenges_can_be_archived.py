"""challenges can be archived: hidden from lists, results kept, no new submissions

Revision ID: 0005
Revises: 0004
Created: 2026-12-01 15:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

import aigc.platform.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "challenge",
        sa.Column("archived_at", aigc.platform.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both databases (SQLite since 3.35): a batch copy of
    # the table would drop it, which the other tables' foreign keys refuse.
    op.execute("ALTER TABLE challenge DROP COLUMN archived_at")
