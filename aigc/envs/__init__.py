"""Gymnasium environments the platform ships, registered as ``aigc/<Name>-v<N>`` on import.

Registration names a string entry point, so importing this package loads no environment
code; ``gym.make("aigc/TextGen-v0")`` imports the environment when it is first made.
"""

from gymnasium.envs.registration import register, registry

# No max_episode_steps: the text environment ends its episodes itself, after at most
# max_new_tokens steps (a kwarg), and a TimeLimit on top would mark them truncated as well.
if "aigc/TextGen-v0" not in registry:
    register(id="aigc/TextGen-v0", entry_point="aigc.envs.textgen.env:TextGenEnv")
