"""The reference language model: causal, saved as a plain state dict, and trainable quickly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from aigc.envs.textgen import train_lm
from aigc.envs.textgen.env import TextGenEnv
from aigc.envs.textgen.lm import CausalLM, LMConfig, ReferenceLM, load_lm, save_lm
from aigc.envs.textgen.model import SlotCache
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer

TINY = LMConfig(vocab_size=4096, block_size=80, n_layer=1, n_head=2, n_embd=32)


def test_logits_at_a_position_ignore_later_tokens() -> None:
    torch.manual_seed(0)
    model = CausalLM(TINY).eval()
    x = torch.randint(0, 4096, (2, 10))
    changed = x.clone()
    changed[:, 6:] = 7
    logits, loss = model(x)
    assert logits.shape == (2, 10, 4096) and loss is None
    assert torch.allclose(logits[:, :6], model(changed)[0][:, :6], atol=1e-5)
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 81, dtype=torch.long))


def test_cached_next_token_logits_match_the_full_forward() -> None:
    torch.manual_seed(0)
    model = CausalLM(TINY).eval()
    x = torch.randint(0, 4096, (3, TINY.block_size))
    full, _ = model(x)
    logits, past = model.next_token_logits(x[:, :5])
    assert torch.allclose(logits, full[:, 4], atol=1e-5)
    for position in range(5, TINY.block_size):
        logits, past = model.next_token_logits(x[:, position : position + 1], past)
        assert torch.allclose(logits, full[:, position], atol=1e-4)
    assert past is None  # the window is full: the next call recomputes the cropped sequence
    longer = torch.cat([x, x[:, :1]], dim=1)
    logits, _ = model.next_token_logits(longer)
    assert torch.allclose(logits, model(longer[:, 1:])[0][:, -1], atol=1e-5)


def test_slot_logits_of_ragged_rows_match_the_full_forward() -> None:
    torch.manual_seed(0)
    model = CausalLM(TINY).eval()
    x = torch.randint(0, 4096, (3, 40))
    full, _ = model(x)
    cache = SlotCache(TINY, 2, 41)
    cache.grow(5)
    assert (cache.slots, cache.length) == (5, 41)
    # Rows of 4, 9 and 6 real tokens, right-padded, read whole into slots 4, 0 and 2.
    lengths = torch.tensor([4, 9, 6])
    padded = x[:, :9].clone()
    padded[0, 4:], padded[2, 6:] = 11, 12
    slots = torch.tensor([4, 0, 2])
    logits = model.slot_logits(padded, torch.zeros(3, dtype=torch.long), lengths - 1, cache, slots)
    assert torch.allclose(logits, full[torch.arange(3), lengths - 1], atol=1e-5)
    # Then one token at a time, each row at its own position; row 1 skips a step.
    for _ in range(12):
        rows = torch.tensor([0, 2]) if int(lengths[0]) % 3 == 0 else torch.arange(3)
        at = lengths[rows]
        tokens = x[rows, at][:, None]
        zero = torch.zeros(len(rows), dtype=torch.long)
        logits = model.slot_logits(tokens, at, zero, cache, slots[rows])
        assert torch.allclose(logits, full[rows, at], atol=1e-4)
        lengths[rows] += 1
    with pytest.raises(ValueError, match="longer than the cache"):
        model.slot_logits(x[:1, :2], torch.tensor([40]), zero[:1], cache, slots[:1])


def test_batched_reference_nll_matches_one_pair_at_a_time() -> None:
    torch.manual_seed(0)
    reference = ReferenceLM(CausalLM(TINY).eval())
    pairs = [
        (torch.randint(1, 4096, (p,)).tolist(), torch.randint(0, 4096, (c,)).tolist())
        for p, c in [(3, 5), (12, 1), (1, 30), (7, 7), (20, 19)]
    ]
    prompts, completions = zip(*pairs, strict=True)

    @torch.no_grad()
    def loss_of(prompt: list[int], completion: list[int]) -> float:
        """The model's mean loss on the completion's tokens, the sequence alone."""
        ids = torch.tensor([[END_OF_TEXT_ID, *prompt, *completion]])
        targets = ids[:, 1:].clone()
        targets[:, : len(prompt)] = -100
        return float(reference.model(ids[:, :-1], targets)[1])  # type: ignore[arg-type]

    one_at_a_time = [loss_of(p, c) for p, c in pairs]
    # Padded batches round differently from one sequence alone, within float32's precision.
    assert [reference(p, c) for p, c in pairs] == pytest.approx(one_at_a_time, rel=1e-5)
    for batch_size in (64, 2):
        batched = reference.nll_batch(prompts, completions, batch_size=batch_size)
        assert batched == pytest.approx(one_at_a_time, rel=1e-5)
    with pytest.raises(ValueError, match="empty"):
        reference.nll_batch([[5], [6]], [[7], []])
    with pytest.raises(ValueError, match="block_size"):
        reference.nll_batch([[5] * 50, [6]], [[7] * 40, [8]])
    with pytest.raises(ValueError, match="one prompt per completion"):
        reference.nll_batch([[5]], [[7], [8]])


def test_generate_takes_one_temperature_per_row_and_runs_past_block_size() -> None:
    torch.manual_seed(0)
    model = CausalLM(TINY).eval()
    prompt = torch.tensor([[END_OF_TEXT_ID, 5, 6]] * 2)
    cold = torch.tensor([1e-3, 1e-3])
    first = model.generate(prompt, 10, temperature=cold, stop_token=None)
    again = model.generate(prompt, 10, temperature=1e-3, stop_token=None)
    assert torch.equal(first, again) and torch.equal(first[0], first[1])  # greedy, both rows
    mixed = model.generate(prompt, 100, temperature=torch.tensor([1e-3, 5.0]), stop_token=None)
    assert mixed.shape == (2, 103) and not torch.equal(mixed[0], mixed[1])


def test_default_model_fits_the_size_budget() -> None:
    model = CausalLM(LMConfig(**{k: v for k, v in vars(train_lm.Args()).items() if k in {
        "n_layer", "n_head", "n_embd", "block_size"}}))  # fmt: skip
    assert model.num_parameters() * 4 < 20e6


def test_generate_stops_rows_at_end_of_text() -> None:
    torch.manual_seed(0)
    model = CausalLM(TINY).eval()
    with torch.no_grad():
        model.head.weight.zero_()  # tied to the embedding: every token equally likely
    prompt = torch.tensor([[END_OF_TEXT_ID, 5, 6], [END_OF_TEXT_ID, 8, 9]])
    out = model.generate(prompt, 40, generator=torch.Generator().manual_seed(1), stop_token=5)
    assert out.shape[0] == 2 and 3 < out.shape[1] <= 43
    assert torch.equal(out[:, :3], prompt)
    for row in out[:, 3:]:
        stops = (row == 5).nonzero()
        if len(stops):
            assert (row[int(stops[0]) :] == 5).all()


def test_save_and_load_round_trip_with_weights_only(tmp_path: Path) -> None:
    model = CausalLM(TINY).eval()
    path = tmp_path / "lm.pt"
    save_lm(model, path, steps=3)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["config"]["n_embd"] == 32 and checkpoint["metadata"] == {"steps": 3}
    loaded = load_lm(path)
    x = torch.randint(0, 4096, (1, 12))
    assert torch.equal(model(x)[0], loaded(x)[0])


def test_load_explains_missing_foreign_and_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_lm"):
        load_lm(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not an AIGC language model"):
        load_lm(tmp_path / "foreign.pt")
    save_lm(CausalLM(TINY), tmp_path / "old.pt")
    checkpoint = torch.load(tmp_path / "old.pt", weights_only=True)
    checkpoint["tokenizer_sha256"] = "0" * 64
    torch.save(checkpoint, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="another tokenizer"):
        load_lm(tmp_path / "old.pt")


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Train a tiny model for 60 steps (a few seconds on one thread)."""
    output = tmp_path_factory.mktemp("lm") / "lm.pt"
    args = train_lm.parse_args(
        [
            "--n-layer", "1", "--n-head", "2", "--n-embd", "64", "--block-size", "80",
            "--batch-size", "16", "--total-steps", "60", "--warmup-steps", "5",
            "--learning-rate", "0.01", "--eval-every", "30", "--eval-batches", "2",
            "--threads", "1", "--output", str(output),
        ]
    )  # fmt: skip
    return output, train_lm.train(args)


@pytest.mark.slow
def test_smoke_training_lowers_the_loss_and_saves_a_loadable_model(
    smoke_model: tuple[Path, dict],
) -> None:
    path, metrics = smoke_model
    assert metrics["steps"] == 60
    assert metrics["heldout_loss"] < math.log(4096) - 1.0  # from 8.3 nats at the start
    model = load_lm(path)
    assert model.config.n_embd == 64 and not model.training


def test_reference_nll_prefers_real_text_and_feeds_the_env(smoke_model: tuple[Path, dict]) -> None:
    path, _ = smoke_model
    reference = ReferenceLM(path)
    tokenizer = load_tokenizer()
    prompt = tokenizer.encode("The best thing about life is").ids
    real = tokenizer.encode(" that it is full of surprises.").ids
    generator = torch.Generator().manual_seed(0)
    noise = torch.randint(1, 4096, (len(real),), generator=generator).tolist()
    assert reference(prompt, real) < reference(prompt, noise) - 1.0
    with pytest.raises(ValueError, match="empty"):
        reference(prompt, [])

    env = TextGenEnv(max_new_tokens=12, reference_lm=path)
    env.reset(options={"prompt": "The best thing about life is"})
    for token in [*real, END_OF_TEXT_ID]:
        _, _, terminated, _, info = env.step(token)
    assert terminated
    assert info["nll"] == pytest.approx(reference(prompt, [*real, END_OF_TEXT_ID]))
    with pytest.raises(ValueError, match="at most 80 tokens"):
        TextGenEnv(max_new_tokens=60, reference_lm=path)


def test_learning_rate_warms_up_then_decays_by_steps() -> None:
    args = train_lm.Args(total_steps=100, warmup_steps=10, learning_rate=1.0, min_learning_rate=0.1)
    assert train_lm.learning_rate(0, args) == pytest.approx(0.1)
    assert train_lm.learning_rate(10, args) == pytest.approx(1.0)
    assert train_lm.learning_rate(55, args) == pytest.approx(0.55)
    assert train_lm.learning_rate(100, args) == pytest.approx(0.1)  # the steps are done


def test_the_time_budget_fails_the_run_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "lm.pt"
    code = train_lm.main(
        [
            "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32",
            "--batch-size", "4", "--total-steps", "100000", "--time-budget-s", "0",
            "--output", str(output),
        ]
    )  # fmt: skip
    assert code == 1 and not output.exists()
    assert capsys.readouterr().err == (
        "error: training spent its time budget of 0 s at step 0 of 100000: "
        "raise time_budget_s (--time-budget-s) so the run ends by its steps\n"
    )


@pytest.mark.slow
def test_the_same_settings_train_the_same_weights(tmp_path: Path) -> None:
    weights = []
    for name in ("first.pt", "second.pt"):
        args = train_lm.Args(
            n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=4, total_steps=10,
            eval_every=5, eval_batches=1, threads=1, num_samples=1, output=str(tmp_path / name),
        )  # fmt: skip
        train_lm.train(args)
        weights.append(torch.load(tmp_path / name, weights_only=True)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_checkpoints_record_no_machine_paths(tmp_path):
    from aigc.envs.textgen.lm import DEFAULT_LM_PATH, SOURCE_ROOT, portable

    inside = SOURCE_ROOT / "aigc" / "envs" / "textgen" / "data" / "reference_lm.pt"
    assert portable({"args": {"output": str(inside), "seed": 1}}) == {
        "args": {"output": "aigc/envs/textgen/data/reference_lm.pt", "seed": 1}
    }
    assert portable(["/somewhere/else/model.pt", "relative/x.pt"]) == ["model.pt", "relative/x.pt"]
    for shipped in (DEFAULT_LM_PATH, DEFAULT_LM_PATH.with_name("reward_model.pt")):
        metadata = torch.load(shipped, weights_only=True)["metadata"]

        def strings(value):
            if isinstance(value, dict):
                return [s for v in value.values() for s in strings(v)]
            return [value] if isinstance(value, str) else []

        assert not [s for s in strings(metadata) if s.startswith("/")], shipped
