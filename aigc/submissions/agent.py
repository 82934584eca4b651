"""The contract an agent meets.

An agent is a class named by ``entry_point`` in the package's ``aigc.toml``. The runtime
constructs it once per evaluation, with the challenge's spaces, from inside the package
folder (the working directory, read-only), so weights load with relative paths::

    class Agent:
        def __init__(self, observation_space, action_space):
            self.weights = np.load("weights.npy")

        def act(self, observation):
            return int(np.argmax(self.weights @ observation))

Optional methods:

``act_batch(observations)``
    Answer n observations at once (stacked on axis 0) with n actions. The evaluator runs
    several episodes side by side; an agent with ``act_batch`` (a neural network, say)
    answers them in one call instead of n calls to ``act``, and may leave ``act`` out.
``reset()``
    Called when an episode starts. An agent that keeps state between steps defines it;
    such an agent is given one episode at a time, so its state is never shared between
    episodes.

Actions must lie in the action space: an integer for ``Discrete``, an array of the space's
shape within its bounds for ``Box`` (NaN is refused), an integer array for
``MultiDiscrete``. Randomness should come from ``numpy``, ``random``, ``torch`` or
``action_space.sample()``: the runtime seeds all of them, so an evaluation repeats exactly.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from gymnasium import spaces


@runtime_checkable
class Agent(Protocol):
    """Maps one observation to one action."""

    def act(self, observation: Any) -> Any:
        """Return the action for one observation."""
        ...


@runtime_checkable
class BatchAgent(Protocol):
    """Maps n stacked observations to n actions in one call (and may leave ``act`` out)."""

    def act_batch(self, observations: Any) -> Any:
        """Return an array-like of n actions for n observations stacked on axis 0."""
        ...


@runtime_checkable
class ResettableAgent(Protocol):
    """Keeps state within an episode."""

    def reset(self) -> None:
        """Forget the previous episode."""
        ...


class AgentClass(Protocol):
    """What ``entry_point`` names: built with the challenge's spaces, it is an agent that
    has ``act``, ``act_batch`` or both. The runtime and ``load_agent_class`` accept anything
    that meets this."""

    def __call__(
        self, observation_space: spaces.Space, action_space: spaces.Space, /
    ) -> Agent | BatchAgent: ...
