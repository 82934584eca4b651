"""A CleanRL PPO checkpoint as it is: ppo.py's ``agent.state_dict()`` in ``ppo.cleanrl_model``.

CleanRL's Agent holds an ``actor`` and a ``critic``; acting needs the actor alone, rebuilt
here with the same layers, and its most likely action.
"""

import numpy as np
import torch
from torch import nn


class Agent:
    def __init__(self, observation_space, action_space):
        inputs = int(np.prod(observation_space.shape))
        self.actor = nn.Sequential(
            nn.Linear(inputs, 64),
            nn.Tanh(),
            nn.Linear(64, 64),
            nn.Tanh(),
            nn.Linear(64, int(action_space.n)),
        )
        state = torch.load("ppo.cleanrl_model", map_location="cpu", weights_only=True)
        actor = {k.removeprefix("actor."): v for k, v in state.items() if k.startswith("actor.")}
        self.actor.load_state_dict(actor)
        self.actor.eval()

    @torch.no_grad()
    def act_batch(self, observations):
        logits = self.actor(torch.as_tensor(observations, dtype=torch.float32))
        return logits.argmax(dim=1).numpy()

    def act(self, observation):
        return int(self.act_batch(np.asarray(observation)[None])[0])
