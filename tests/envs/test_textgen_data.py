"""The corpus, its split and prompts, the tokenizer, and the scripts that build them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from aigc.envs.textgen import corpus
from aigc.envs.textgen.corpus import CORPUS_PATH, passages, prompt_of, prompts, split_of
from aigc.envs.textgen.tokenizer import (
    END_OF_TEXT,
    END_OF_TEXT_ID,
    TOKENIZER_PATH,
    load_tokenizer,
    train_tokenizer,
)
from tests.conftest import machine_lacks

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "textgen"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"textgen_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_splits_partition_the_corpus_about_nine_to_one() -> None:
    train, heldout = passages("train"), passages("heldout")
    assert not set(train) & set(heldout)
    assert len(train) + len(heldout) == len(CORPUS_PATH.read_text().splitlines())
    assert 0.07 < len(heldout) / (len(train) + len(heldout)) < 0.13
    assert all(split_of(p) == "heldout" for p in heldout)
    assert len(prompts("heldout")) >= 1000


def test_prompts_are_the_opening_words_of_passages() -> None:
    assert prompt_of("one two three four five six seven") == "one two three"
    assert prompt_of(" ".join(str(i) for i in range(40))) == "0 1 2 3 4 5 6 7"
    assert prompt_of("Short but sweet words here.") == "Short but sweet"
    train_prompts = prompts("train")
    assert len(set(train_prompts)) == len(train_prompts)
    assert all(3 <= len(p.split()) <= 8 for p in train_prompts)


def test_split_is_a_function_of_the_text_only() -> None:
    assert split_of("Love conquers all.") == split_of("Love conquers all.")
    with pytest.raises(ValueError, match="use one of train, heldout"):
        corpus.check_split("test")


def test_tokenizer_round_trips_corpus_and_any_text() -> None:
    tokenizer = load_tokenizer()
    assert tokenizer.get_vocab_size() == 4096
    assert tokenizer.token_to_id(END_OF_TEXT) == END_OF_TEXT_ID == 0
    texts = [
        *passages("heldout"),
        "",
        "  two  spaces\nand a newline\t tab",
        "Ünïcödé, emoji 🙂 and 日本語",
    ]
    for text, encoding in zip(texts, tokenizer.encode_batch(texts), strict=True):
        assert tokenizer.decode(encoding.ids) == text
    ids = tokenizer.encode_batch(list(passages("heldout")))
    tokens = sum(len(e.ids) for e in ids)
    chars = sum(len(p) for p in passages("heldout"))
    assert chars / tokens > 3.0  # BPE merges, not bytes


def test_decoding_random_ids_never_fails() -> None:
    tokenizer = load_tokenizer()
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert isinstance(tokenizer.decode(rng.integers(0, 4096, 20).tolist()), str)


def test_tokenizer_training_is_deterministic_and_checks_its_size() -> None:
    texts = ["the cat sat on the mat", "the dog sat on the log"] * 20
    first, second = train_tokenizer(texts, 300), train_tokenizer(texts, 300)
    assert first.to_str() == second.to_str()
    with pytest.raises(ValueError, match="at least 257"):
        train_tokenizer(texts, 100)


def test_build_tokenizer_script_rebuilds_the_shipped_file(tmp_path: Path) -> None:
    output = tmp_path / "tokenizer.json"
    assert load_script("build_tokenizer").main(["--output", str(output)]) == 0
    assert output.read_bytes() == TOKENIZER_PATH.read_bytes()


def test_load_tokenizer_explains_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"build_tokenizer\.py"):
        load_tokenizer(tmp_path / "none.json")
    foreign = tmp_path / "foreign.json"
    foreign.write_text(train_tokenizer(["a b c"] * 5, 300).to_str().replace(END_OF_TEXT, "<s>"))
    with pytest.raises(ValueError, match="must have id 0"):
        load_tokenizer(foreign)


def test_build_corpus_keeps_prose_and_drops_attributions_code_and_art(tmp_path: Path) -> None:
    build_corpus = load_script("build_corpus")
    for name in build_corpus.FILES:
        (tmp_path / name).write_text("")
    (tmp_path / "wisdom").write_text(
        "A journey of a thousand miles begins with a single step.\n"
        "\t\t-- Lao Tzu\n%\n"
        "int main() { return 0; } is all the code you need today.\n%\n"
        "  /\\_/\\  a cat drawn in ASCII art, with ears\n%\n"
        "Too short.\n%\n"
        "The quick brown fox\njumps over   the lazy dog.\n%\n"
        "a journey of a thousand miles begins with a single step.\n"
    )
    output = tmp_path / "corpus.txt"
    assert build_corpus.main(["--source", str(tmp_path), "--output", str(output)]) == 0
    assert output.read_text().splitlines() == [
        "A journey of a thousand miles begins with a single step.",
        "The quick brown fox jumps over the lazy dog.",
    ]
    (tmp_path / "wisdom").unlink()
    with pytest.raises(SystemExit, match="apt-get install fortunes"):
        build_corpus.main(["--source", str(tmp_path), "--output", str(output)])


def test_build_corpus_script_rebuilds_the_shipped_corpus(tmp_path: Path) -> None:
    if not Path("/usr/share/games/fortunes/wisdom").is_file():
        machine_lacks("Debian's fortunes package (apt-get install fortunes)")
    output = tmp_path / "corpus.txt"
    assert load_script("build_corpus").main(["--output", str(output)]) == 0
    assert output.read_bytes() == CORPUS_PATH.read_bytes()
