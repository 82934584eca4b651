"""episodes: the recorded actions a replay re-runs, and a text episode's prompt and completion

Revision ID: 0006
Revises: 0005
Created: 2026-12-01 15:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Episodes stored before this have no recording: their replays say so.
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actions", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("prompt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("completion", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_column("completion")
        batch_op.drop_column("prompt")
        batch_op.drop_column("actions")
