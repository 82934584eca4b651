"""PPO agent for acrobot: the most likely action.

Trained by aigc.baselines.ppo; needs numpy and torch.
"""

import numpy as np
import torch
import torch.nn as nn

HIDDEN_SIZES = (64, 64)


class Policy(nn.Module):
    """Normalize the observation with the training's statistics, then the actor network."""

    def __init__(self, n_obs, n_out):
        super().__init__()
        self.register_buffer("obs_mean", torch.zeros(n_obs))
        self.register_buffer("obs_var", torch.ones(n_obs))
        layers = []
        for width in HIDDEN_SIZES:
            layers += [nn.Linear(n_obs, width), nn.Tanh()]
            n_obs = width
        layers.append(nn.Linear(n_obs, n_out))
        self.actor = nn.Sequential(*layers)

    def forward(self, x):
        x = torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8), -10, 10)
        return self.actor(x)


class Agent:
    def __init__(self, observation_space, action_space):
        torch.set_num_threads(1)
        self.action_space = action_space
        self.discrete = hasattr(action_space, "n")
        n_out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.policy = Policy(int(np.prod(observation_space.shape)), n_out)
        self.policy.load_state_dict(torch.load("policy.pt", weights_only=True))
        self.policy.eval()

    def act(self, observation):
        action = self.act_batch(np.asarray(observation)[None])[0]
        return int(action) if self.discrete else action

    def act_batch(self, observations):
        x = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        with torch.no_grad():
            out = self.policy(x.reshape(len(x), -1)).numpy()
        if self.discrete:
            return out.argmax(axis=1)
        space = self.action_space
        mean = out.reshape(len(out), *space.shape)
        return np.clip(mean, space.low, space.high).astype(space.dtype)
