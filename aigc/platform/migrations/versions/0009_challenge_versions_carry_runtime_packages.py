"""challenge versions: their runtime packages' wheelhouse, pins and image

Revision ID: 0009
Revises: 0008
Created: 2026-12-01 20:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, as 0008: nullable columns need no copy of the table on SQLite.
def upgrade() -> None:
    op.add_column("challenge_version", sa.Column("runtime_sha256", sa.String(64), nullable=True))
    op.add_column("challenge_version", sa.Column("runtime_pins", sa.Text(), nullable=True))
    op.add_column("challenge_version", sa.Column("runtime_image", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_column("challenge_version", "runtime_image")
    op.drop_column("challenge_version", "runtime_pins")
    op.drop_column("challenge_version", "runtime_sha256")
