"""submissions: the episode and step a failure happened in

Revision ID: 0008
Revises: 0007
Created: 2026-12-01 16:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch: on SQLite a batch copies the table and drops the old one,
# and dropping it would delete the rows that refer to submissions (evaluations, episodes).
def upgrade() -> None:
    op.add_column("submission", sa.Column("failure_episode", sa.Integer(), nullable=True))
    op.add_column("submission", sa.Column("failure_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("submission", "failure_step")
    op.drop_column("submission", "failure_episode")
