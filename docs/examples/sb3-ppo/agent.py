"""A Stable-Baselines3 PPO as ``model.save`` wrote it (``model.zip``), with torch alone.

The zip holds the policy's weights as ``policy.pth``. For ``MlpPolicy`` on a ``Box``
observation and a ``Discrete`` action, the deterministic action is the argmax of
``action_net`` over the policy network (Linear layers with Tanh between, 64-64 by default).
"""

import io
import zipfile

import numpy as np
import torch
from torch import nn


def linear(state, prefix):
    """The Linear layer whose weight and bias the state dict holds under ``prefix``."""
    weight, bias = state[f"{prefix}.weight"], state[f"{prefix}.bias"]
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    layer.load_state_dict({"weight": weight, "bias": bias})
    return layer


class Agent:
    def __init__(self, observation_space, action_space):
        with zipfile.ZipFile("model.zip") as saved:
            state = torch.load(io.BytesIO(saved.read("policy.pth")), weights_only=True)
        layers = []
        index = 0  # mlp_extractor.policy_net.0, .2, ...: each a Linear followed by Tanh
        while f"mlp_extractor.policy_net.{index}.weight" in state:
            layers += [linear(state, f"mlp_extractor.policy_net.{index}"), nn.Tanh()]
            index += 2
        self.policy = nn.Sequential(*layers, linear(state, "action_net")).eval()

    @torch.no_grad()
    def act_batch(self, observations):
        flat = torch.as_tensor(observations, dtype=torch.float32).flatten(start_dim=1)
        return self.policy(flat).argmax(dim=1).numpy()

    def act(self, observation):
        return int(self.act_batch(np.asarray(observation)[None])[0])
