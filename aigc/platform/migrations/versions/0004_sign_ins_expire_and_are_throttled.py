"""sign-ins: token expiry, web sessions kept on the server, throttled attempts

Revision ID: 0004
Revises: 0003
Created: 2026-11-24 10:02:41.503117
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import aigc.platform.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Tokens issued before tokens expired get the default lifetime from the upgrade on, so no
# one is signed out by the upgrade itself.
EXISTING_TOKEN_LIFETIME = timedelta(days=30)


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", aigc.platform.models.UTCDateTime(timezone=True), nullable=True)
        )
    api_token = sa.table(
        "api_token", sa.column("expires_at", aigc.platform.models.UTCDateTime(timezone=True))
    )
    op.execute(api_token.update().values(expires_at=datetime.now(UTC) + EXISTING_TOKEN_LIFETIME))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at",
            existing_type=aigc.platform.models.UTCDateTime(timezone=True),
            nullable=False,
        )

    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", aigc.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", aigc.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_session_token_hash")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_session_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", aigc.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index("ix_attempt_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_at"), ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("attempt")
    op.drop_table("web_session")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
