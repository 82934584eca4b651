"""The reward model: its labels, its checkpoint, its batched scoring, its training, and the
shipped model's verdicts, beside the gold judge's and the reference model's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc.envs.textgen import train_reward
from aigc.envs.textgen.corpus import passages, prompt_of
from aigc.envs.textgen.env import TextGenEnv
from aigc.envs.textgen.judge import GoldJudge
from aigc.envs.textgen.lm import CausalLM, LMConfig, ReferenceLM, load_lm, save_lm
from aigc.envs.textgen.reward_model import (
    RewardModel,
    RewardScorer,
    encode_for_reward,
    load_reward_model,
    pad_batch,
    round_to_float16,
    save_reward_model,
    shipped_reward_scorer,
)
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer
from aigc.envs.textgen.train_reward import PromptGroup

TINY = LMConfig(vocab_size=4096, block_size=80, n_layer=2, n_head=2, n_embd=32)

OBVIOUS = [
    # (prompt, positive and fluent, negative and fluent)
    ("The movie was", " wonderful, and I loved every minute of it.",
     " terrible, and I hated every minute of it."),
    ("My new neighbours are", " kind and generous people, a real joy to know.",
     " rude and cruel people, a real misery to know."),
    ("When I think of my old job,", " I remember happy days with good friends.",
     " I remember sad days with bitter enemies."),
    ("Life is", " a great gift, full of love and beauty.",
     " a cruel joke, full of pain and misery."),
    ("The dinner last night", " was delicious and we had a great time.",
     " was awful and we had a horrible time."),
    ("The weather this weekend", " will be beautiful, sunny and pleasant.",
     " will be miserable, cold and depressing."),
]  # fmt: skip


def random_text(seed: int, tokens: int = 24) -> str:
    ids = np.random.default_rng(seed).integers(1, 4096, tokens).tolist()
    return load_tokenizer().decode(ids)


def tiny_model(seed: int = 0) -> RewardModel:
    torch.manual_seed(seed)
    return RewardModel.from_language_model(CausalLM(TINY), n_layer=2).eval()


def test_reward_model_starts_from_the_language_model() -> None:
    torch.manual_seed(0)
    lm = CausalLM(TINY).eval()
    model = RewardModel.from_language_model(lm, n_layer=1)
    assert model.config.n_layer == 1 and len(model.blocks) == 1
    assert torch.equal(model.tok_emb.weight, lm.tok_emb.weight)
    assert torch.equal(model.blocks[0].mlp[0].weight, lm.blocks[0].mlp[0].weight)
    assert model.num_parameters() < lm.num_parameters()
    with pytest.raises(ValueError, match="give 1 to that many"):
        RewardModel.from_language_model(lm, n_layer=3)


def test_padding_and_batching_do_not_change_scores() -> None:
    scorer = RewardScorer(tiny_model(), batch_size=3)
    prompts = ["Hello", "The cat", "A long time ago, in a galaxy far away,", "Yes", "Why"]
    completions = [" world.", " sat on the mat and purred.", " there was war.", "", " not?"]
    batched = scorer.score_batch(prompts, completions)
    one_by_one = [scorer(p, c) for p, c in zip(prompts, completions, strict=True)]
    assert batched == pytest.approx(one_by_one, abs=1e-5)
    assert len(set(batched)) == len(batched)
    with pytest.raises(ValueError, match="one prompt per completion"):
        scorer.score_batch(["a"], ["b", "c"])


def test_encoding_ends_with_end_of_text_and_keeps_the_end_of_long_inputs() -> None:
    tokenizer = load_tokenizer()
    ids = encode_for_reward(tokenizer, "Hi", " there", block_size=80)
    assert ids == [END_OF_TEXT_ID, *tokenizer.encode("Hi").ids, *tokenizer.encode(" there").ids, 0]
    long = encode_for_reward(tokenizer, "word " * 100, " the end", block_size=80)
    assert len(long) == 80 and long[-1] == END_OF_TEXT_ID
    assert long[-1 - len(tokenizer.encode(" the end").ids) : -1] == tokenizer.encode(" the end").ids
    idx, lengths = pad_batch([[5, 6, 7], [8]])
    assert idx.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]


def test_save_then_load_gives_the_same_scores(tmp_path: Path) -> None:
    model = round_to_float16(tiny_model())
    path = tmp_path / "rm.pt"
    save_reward_model(model, path, heldout_accuracy=0.5)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["metadata"] == {"heldout_accuracy": 0.5}
    assert all(t.dtype == torch.float16 for t in checkpoint["state_dict"].values())
    loaded = load_reward_model(path)
    assert not loaded.training
    prompts, completions = ["It was", "We are"], [" fine.", " not amused at all"]
    assert RewardScorer(loaded).score_batch(prompts, completions) == RewardScorer(
        model
    ).score_batch(prompts, completions)


def test_load_explains_missing_foreign_and_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_reward"):
        load_reward_model(tmp_path / "none.pt")
    save_lm(CausalLM(TINY), tmp_path / "lm.pt")
    with pytest.raises(ValueError, match="not an AIGC reward model"):
        load_reward_model(tmp_path / "lm.pt")
    save_reward_model(tiny_model(), tmp_path / "old.pt")
    checkpoint = torch.load(tmp_path / "old.pt", weights_only=True)
    checkpoint["tokenizer_sha256"] = "0" * 64
    torch.save(checkpoint, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="another tokenizer"):
        load_reward_model(tmp_path / "old.pt")


def test_labels_follow_gold_and_their_noise_grows_with_the_temperature() -> None:
    group = PromptGroup(
        prompt="p",
        completions=("a", "b", "c", "d", "e"),
        sources=("corpus", "other", "1", "1", "1"),
        gold=(0.9, 0.5, 0.5, 0.1, 0.2),
        sequences=((0,),) * 5,
    )
    pairs = group.comparable_pairs()
    assert (1, 2) not in pairs and len(pairs) == 9  # b and c tie: no preference
    groups = [group] * 500
    sharp = train_reward.noisy_labels(groups, 1e-4, seed=0)
    assert train_reward.label_agreement(groups, sharp) == 1.0
    assert (4, 3) in sharp[0]  # e (0.2) beats d (0.1)
    noisy = train_reward.label_agreement(groups, train_reward.noisy_labels(groups, 0.2, seed=0))
    # At temperature 0.2, gaps of 0.4 (four pairs), 0.8, 0.7, 0.3 (two pairs) and 0.1 agree
    # with probability 0.881, 0.982, 0.971, 0.818 and 0.622: 0.859 on average.
    assert 0.84 < noisy < 0.88
    flat = train_reward.label_agreement(groups, train_reward.noisy_labels(groups, 100.0, seed=0))
    assert 0.45 < flat < 0.55
    with pytest.raises(ValueError, match="positive number"):
        train_reward.noisy_labels(groups, 0.0, seed=0)
    with pytest.raises(ValueError, match="positive numbers"):
        train_reward.parse_temperatures("0.7,-1")


def smoke_args(reference: Path, output: Path) -> train_reward.Args:
    """Settings of a run on 24 prompts, a few seconds on one thread."""
    return train_reward.parse_args(
        [
            "--reference", str(reference), "--n-layer", "1", "--train-prompts", "24",
            "--heldout-prompts", "12", "--temperatures", "0.8,1.5", "--max-new-tokens", "12",
            "--epochs", "4", "--prompts-per-batch", "4", "--learning-rate", "0.003",
            "--warmup-steps", "2", "--eval-every", "10", "--threads", "1",
            "--output", str(output),
        ]
    )  # fmt: skip


def test_smoke_training_learns_and_saves_a_loadable_model(tmp_path: Path) -> None:
    """Train on candidates written by a tiny untrained reference model; train again, same."""
    torch.manual_seed(0)
    reference = tmp_path / "lm.pt"
    save_lm(CausalLM(TINY), reference)
    metrics = train_reward.train(smoke_args(reference, tmp_path / "rm.pt"))
    assert metrics["steps"] == 24
    assert metrics["train_accuracy"] > 0.8  # it fits its training prompts
    assert 0.0 <= metrics["heldout_accuracy"] <= 1.0
    model = load_reward_model(tmp_path / "rm.pt")
    assert model.config.n_layer == 1 and model.config.n_embd == 32
    scorer = RewardScorer(model)
    train_candidates = train_reward.build_groups(
        "train", 24, load_lm(reference), smoke_args(reference, tmp_path / "unused.pt"), seed=1
    )
    scores = scorer.score_batch(
        [g.prompt for g in train_candidates for _ in g.completions],
        [c for g in train_candidates for c in g.completions],
    )
    assert np.mean(scores) == pytest.approx(0.0, abs=0.01)  # normalized on these candidates
    assert np.std(scores) == pytest.approx(1.0, abs=0.01)

    train_reward.train(smoke_args(reference, tmp_path / "again.pt"))
    first = torch.load(tmp_path / "rm.pt", weights_only=True)["state_dict"]
    again = torch.load(tmp_path / "again.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(first[name], again[name]) for name in first)


def test_the_time_budget_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = tmp_path / "lm.pt"
    save_lm(CausalLM(TINY), reference)
    args = dataclasses.replace(smoke_args(reference, tmp_path / "rm.pt"), time_budget_s=0.0)
    with pytest.raises(train_reward.TimeBudgetExceeded) as caught:
        train_reward.train(args)
    assert str(caught.value) == (
        "training spent its time budget of 0 s at step 0 of 24: "
        "raise time_budget_s (--time-budget-s) so the run ends by its steps"
    )
    assert not (tmp_path / "rm.pt").exists()


# The shipped reward model and reference model.


@pytest.fixture(scope="module")
def scorer() -> RewardScorer:
    return shipped_reward_scorer()


@pytest.mark.parametrize(("prompt", "positive", "negative"), OBVIOUS)
def test_shipped_reward_model_orders_obvious_pairs(
    scorer: RewardScorer, prompt: str, positive: str, negative: str
) -> None:
    noise = random_text(len(prompt))
    good, bad, garbage = scorer.score_batch([prompt] * 3, [positive, negative, noise])
    assert good > bad > garbage


def test_shipped_reward_model_is_the_default_scorer_of_the_env(scorer: RewardScorer) -> None:
    env = TextGenEnv(max_new_tokens=16)
    assert env.scorer is scorer
    completion = " and I love it, it is a wonderful day."
    env.reset(options={"prompt": "The sun is out"})
    for token in [*load_tokenizer().encode(completion).ids, END_OF_TEXT_ID]:
        _, reward, terminated, _, info = env.step(token)
    assert terminated
    assert reward == info["score"] == pytest.approx(scorer("The sun is out", completion))
    with pytest.raises(ValueError, match="rewards positive text"):
        TextGenEnv(target="negative")
    assert TextGenEnv(target="negative", scorer="gold").scorer is not scorer


def test_random_tokens_score_low_on_fluency_gold_and_reward() -> None:
    """The metrics discriminate: random tokens against the corpus's own continuations."""
    reference, judge, scorer = ReferenceLM(), GoldJudge(), shipped_reward_scorer()
    tokenizer = load_tokenizer()
    rng = np.random.default_rng(0)
    real, noise = [], []
    for passage in passages("heldout")[:40]:
        prompt = prompt_of(passage)
        prompt_ids = tokenizer.encode(prompt).ids
        rest = " " + " ".join(passage.split()[len(prompt.split()) :])
        real_ids = tokenizer.encode(rest).ids[:24]
        noise_ids = rng.integers(1, 4096, len(real_ids)).tolist()
        for ids, into in ((real_ids, real), (noise_ids, noise)):
            text = tokenizer.decode(ids)
            into.append((reference(prompt_ids, ids), judge(prompt, text), scorer(prompt, text)))
    real_nll, real_gold, real_reward = np.mean(real, axis=0)
    noise_nll, noise_gold, noise_reward = np.mean(noise, axis=0)
    assert real_nll < 5.5 and noise_nll > 9.0
    assert noise_gold < 0.02 < 0.2 < real_gold
    assert noise_reward < real_reward - 1.0
