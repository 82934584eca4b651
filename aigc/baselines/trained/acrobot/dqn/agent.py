"""DQN agent for acrobot: the action with the highest Q-value.

Trained by aigc.baselines.dqn; needs numpy and torch.
"""

import numpy as np
import torch
import torch.nn as nn

HIDDEN_SIZES = (256, 256)


class QNetwork(nn.Module):
    def __init__(self, n_obs, n_actions):
        super().__init__()
        layers = []
        for width in HIDDEN_SIZES:
            layers += [nn.Linear(n_obs, width), nn.ReLU()]
            n_obs = width
        layers.append(nn.Linear(n_obs, n_actions))
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class Agent:
    def __init__(self, observation_space, action_space):
        torch.set_num_threads(1)
        self.q_network = QNetwork(int(np.prod(observation_space.shape)), int(action_space.n))
        self.q_network.load_state_dict(torch.load("q_network.pt", weights_only=True))
        self.q_network.eval()

    def act(self, observation):
        return int(self.act_batch(np.asarray(observation)[None])[0])

    def act_batch(self, observations):
        x = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        with torch.no_grad():
            return self.q_network(x.reshape(len(x), -1)).argmax(dim=1).numpy()
