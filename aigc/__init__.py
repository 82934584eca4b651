"""AIGC, the AI Gym Challenge: a competition platform for reinforcement-learning agents."""

__version__ = "0.1.0"
