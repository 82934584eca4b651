"""A vendored pure-Python library of three modules."""

from vendored_lib import first, second  # noqa: F401
