"""challenge versions: the sha256 of a bundle's stored archive

Revision ID: 0007
Revises: 0006
Created: 2026-12-01 15:12:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("challenge_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("challenge_version", schema=None) as batch_op:
        batch_op.drop_column("bundle_sha256")
