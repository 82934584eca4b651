"""The text-generation environment: corpus, tokenizer, gold judge, reference and reward models.

``aigc.envs.textgen.env.TextGenEnv`` is ``aigc/TextGen-v0``. The reference language model
(``lm``, ``train_lm``) and the reward model (``reward_model``, ``train_reward``) need torch,
and so does the environment's default scorer, the shipped reward model; nothing else here
does (``scorer="gold"`` runs without torch). Its packages are the install's text extra
(``pip install 'aigc[text]'``); without them importing this package says so in one line.
"""

from aigc.extras import require

require("text", "aigc/TextGen-v0, the text challenge's environment")
