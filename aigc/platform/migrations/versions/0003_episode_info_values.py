"""episodes: the info values a challenge declares in metrics.info

Revision ID: 0003
Revises: 0002
Created: 2026-11-22 17:21:16.209975
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Episodes stored before this have no info values: an empty mapping, as for new ones.
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("values", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_column("values")
