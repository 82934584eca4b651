"""Scoring and ranking: evaluation results in, ranked leaderboard rows out."""
