"""Raises an exception whose message would rewrite a reader's terminal if printed as it is."""


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        raise RuntimeError(
            "\x1b[2J\x1b]0;owned\x07\u009b31m red \u202eevil\u2066 nul:\x00 [/bold] end"
        )
