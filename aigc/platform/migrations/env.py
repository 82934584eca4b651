"""Alembic environment: migrate the connection the platform hands over, or the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from aigc.platform.models import Base


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url, or hand over a connection"
    with create_engine(url).begin() as own:
        run(own)
