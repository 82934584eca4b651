"""Imports a module that does not exist."""

import module_that_does_not_exist  # noqa: F401


class Agent:
    def act(self, observation):
        return 0
