"""Reference agents (Q-learning, DQN, PPO) that train, and write submittable agent packages."""
