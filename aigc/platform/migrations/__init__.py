"""Alembic migrations of the platform's database (run by ``Database.migrate``)."""
