"""The text-generation environment: corpus, tokenizer, gold judge, reference and reward models.

``aigc.envs.textgen.env.TextGenEnv`` is ``aigc/TextGen-v0``. The reference language model
(``lm``, ``train_lm``) and the reward model (``reward_model``, ``train_reward``) need torch,
and so does the environment's default scorer, the shipped reward model; nothing else here
does (``scorer="gold"`` runs without torch).
"""
