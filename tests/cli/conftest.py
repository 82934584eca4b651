"""The real server and in-process ``aigc`` of test_remote.py, for the other modules here."""

from tests.cli.test_remote import cli, live_server, new_database

__all__ = ["cli", "live_server", "new_database"]
