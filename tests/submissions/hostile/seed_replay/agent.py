"""Beats FrozenLake's slippery ice by replaying the seeds it expects to be given.

Gymnasium's FrozenLake draws one number from its seeded generator at reset and one per
step, and the number decides where the ice slips. An agent that knows an episode's seed
knows every slip before it happens, and can find a path that reaches the goal whatever
the ice does: it succeeds in every episode where such a path exists, far above the 74%
of the best honest policy. This agent assumes the seeds are played in order from
FIRST_SEED, as a public phase with seeds {first: 1000} once played them. When the ice
does not slip as predicted, its guess was wrong and it plays the best honest policy.
"""

import numpy as np
from gymnasium.utils import seeding

FIRST_SEED = 1000
MAP = ("SFFF", "FHFH", "FFFH", "HFFG")
SIZE = 4
HORIZON = 100  # the challenge's step limit
LEFT, DOWN, RIGHT, UP = range(4)


def move(state, direction):
    row, col = divmod(state, SIZE)
    if direction == LEFT:
        col = max(col - 1, 0)
    elif direction == DOWN:
        row = min(row + 1, SIZE - 1)
    elif direction == RIGHT:
        col = min(col + 1, SIZE - 1)
    else:
        row = max(row - 1, 0)
    return row * SIZE + col


def cell(state):
    return MAP[state // SIZE][state % SIZE]


def slipped(state, action, u):
    """Where the ice takes the agent when the generator draws ``u`` (Gymnasium's rule)."""
    if cell(state) in "HG":
        return state
    side = int(np.argmax(np.cumsum([1 / 3, 1 / 3, 1 / 3]) > u))
    return move(state, (action - 1 + side) % 4)


def honest_policy():
    """The best policy that does not know the slips: backward induction over the horizon."""
    value = np.array([1.0 if cell(s) == "G" else 0.0 for s in range(SIZE * SIZE)])
    policy = np.zeros((HORIZON, SIZE * SIZE), dtype=np.int64)
    for t in reversed(range(HORIZON)):
        new = value.copy()
        for s in range(SIZE * SIZE):
            if cell(s) in "HG":
                continue
            means = [np.mean([value[move(s, (a + d) % 4)] for d in (-1, 0, 1)]) for a in range(4)]
            policy[t, s], new[s] = int(np.argmax(means)), max(means)
        value = new
    return policy


def replay_plan(uniforms):
    """Actions per (step, state) that reach the goal for these draws, where any do."""
    reach = np.array([cell(s) == "G" for s in range(SIZE * SIZE)])
    plan = np.zeros((HORIZON, SIZE * SIZE), dtype=np.int64)
    for t in reversed(range(HORIZON)):
        new = reach.copy()
        for s in range(SIZE * SIZE):
            if cell(s) in "HG":
                continue
            for a in range(4):
                if reach[slipped(s, a, uniforms[t])]:
                    plan[t, s], new[s] = a, True
                    break
        reach = new
    return plan


class Agent:
    def __init__(self, observation_space, action_space):
        self.honest = honest_policy()
        self.episode = -1

    def reset(self):  # stateful: episodes come one at a time, in the order they are played
        self.episode += 1
        generator, _ = seeding.np_random(FIRST_SEED + self.episode)
        generator.random()  # reset draws the start cell
        self.uniforms = generator.random(HORIZON)
        self.plan = replay_plan(self.uniforms)
        self.trusted = True
        self.t, self.expected = 0, 0

    def act(self, observation):
        state = int(observation)
        if state != self.expected:
            self.trusted = False  # the ice did not slip as predicted: wrong seed
        table = self.plan if self.trusted else self.honest
        action = int(table[self.t, state])
        self.expected = slipped(state, action, self.uniforms[self.t])
        self.t += 1
        return action
