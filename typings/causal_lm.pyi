# Text agent packages carry aigc/envs/textgen/model.py beside their agent.py as causal_lm.py;
# this lets mypy check aigc/baselines/agents/language_model_agent.py against it.
from aigc.envs.textgen.model import END_OF_TEXT_ID as END_OF_TEXT_ID
from aigc.envs.textgen.model import CausalLM as CausalLM
from aigc.envs.textgen.model import LMConfig as LMConfig
from aigc.envs.textgen.model import SlotCache as SlotCache
