"""leaderboards: intervals, board versions, baselines, reveals

Revision ID: 0002
Revises: 0001
Created: 2026-11-22 12:51:49.118807
"""

import sqlalchemy as sa
from alembic import op

import aigc.platform.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phase_reveal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=63), nullable=False),
        sa.Column("revealed_by_id", sa.Integer(), nullable=True),
        sa.Column("revealed_at", aigc.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge.id"],
            name=op.f("fk_phase_reveal_challenge_id_challenge"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revealed_by_id"],
            ["user_account.id"],
            name=op.f("fk_phase_reveal_revealed_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phase_reveal")),
        sa.UniqueConstraint("challenge_id", "phase", name=op.f("uq_phase_reveal_challenge_id")),
    )
    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("board_version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ci_low", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ci_high", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("tie_breaker", sa.Float(), nullable=True))

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("baseline", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("baseline")

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_column("tie_breaker")
        batch_op.drop_column("ci_high")
        batch_op.drop_column("ci_low")

    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.drop_column("board_version")

    op.drop_table("phase_reveal")
