"""The gold judge orders obvious pairs, punishes garbage and repetition, and is deterministic."""

from __future__ import annotations

import pytest

from aigc.envs.textgen.judge import BigramModel, GoldJudge, distinct_n, words

PAIRS = [
    # (prompt, clearly positive completion, clearly negative completion)
    ("The movie was", " wonderful, and I loved every minute of it.",
     " terrible, and I hated every minute of it."),
    ("My new neighbours are", " kind and generous people, a real joy.",
     " rude and cruel people, a real misery."),
    ("The dinner last night", " was delicious and we had a great time.",
     " was awful and we had a horrible time."),
    ("When I think of my old job,", " I remember happy days with good friends.",
     " I remember sad days with bitter enemies."),
    ("The weather this weekend", " will be beautiful, sunny and pleasant.",
     " will be miserable, cold and depressing."),
]  # fmt: skip


@pytest.fixture(scope="module")
def judge() -> GoldJudge:
    return GoldJudge()


@pytest.mark.parametrize(("prompt", "positive", "negative"), PAIRS)
def test_gold_prefers_the_positive_completion(
    judge: GoldJudge, prompt: str, positive: str, negative: str
) -> None:
    good, bad = judge.score(prompt, positive), judge.score(prompt, negative)
    assert good.gold > bad.gold + 0.3
    assert good.sentiment > 0.3 > -0.3 > bad.sentiment
    assert good.fluency > 0.5 and bad.fluency > 0.5  # both read as English


@pytest.mark.parametrize(("prompt", "positive", "negative"), PAIRS)
def test_the_negative_target_reverses_the_order(prompt: str, positive: str, negative: str) -> None:
    judge = GoldJudge(target="negative")
    assert judge(prompt, negative) > judge(prompt, positive)


def test_fluent_text_beats_positive_word_salad_and_loops(judge: GoldJudge) -> None:
    fluent = judge.score("Today", " was a good day and I am happy with it.")
    salad = judge.score("Today", " happy love wonderful best great joy nice")
    loop = judge.score("Today", " I love it, I love it, I love it, I love it, I love it.")
    assert salad.sentiment > fluent.sentiment  # the lexicon alone would be fooled
    assert fluent.gold > 2 * salad.gold
    assert fluent.gold > 2 * loop.gold


def test_empty_and_very_short_completions_earn_little(judge: GoldJudge) -> None:
    assert judge.score("Hello", "").gold == 0.0
    assert judge("It was", " great") < 0.5 * judge("It was", " great, and we had a lovely time.")


def test_gold_is_deterministic_and_in_range(judge: GoldJudge) -> None:
    scores = [judge("Life is", " a long and happy journey.") for _ in range(3)]
    assert len(set(scores)) == 1 and 0.0 <= scores[0] <= 1.0
    assert GoldJudge()("Life is", " a long and happy journey.") == scores[0]


def test_bigram_model_prefers_seen_word_order() -> None:
    model = BigramModel(["the cat sat on the mat", "the dog sat on the log"])
    seen = model.nats_per_word(["the"], words("cat sat on the mat"))
    shuffled = model.nats_per_word(["the"], words("mat the on sat cat"))
    unseen = model.nats_per_word(["the"], words("zebra quux"))
    assert seen < shuffled < unseen
    assert sum(model.prob("the", w) for w in [*model.unigrams, "<unseen>"]) == pytest.approx(
        1.0, abs=0.02
    )


def test_distinct_n() -> None:
    assert distinct_n("a b a b", 1) == 0.5
    assert distinct_n("a b a b", 2) == pytest.approx(2 / 3)
    assert distinct_n("one", 2) == 0.0
    assert distinct_n("", 1) == 0.0


def test_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="use 'positive' or 'negative'"):
        GoldJudge(target="happy")  # type: ignore[arg-type]
