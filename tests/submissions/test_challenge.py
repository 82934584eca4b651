"""Challenge specs: built-ins load, every broken field is a one-line SpecError, seeds, dates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigc.submissions.challenge import (
    ChallengeSpec,
    SpecError,
    builtin_challenge_ids,
    builtin_challenges,
    get_challenge,
    load_challenge,
    parse_challenge,
    parse_challenge_yaml,
)
from aigc.submissions.metrics import METRICS

DELETE = object()


def valid() -> dict[str, Any]:
    """A minimal spec that loads; each broken-spec case changes one thing in a fresh copy."""
    return {
        "id": "demo",
        "title": "Demo",
        "environment": {"id": "CartPole-v1"},
        "phases": [
            {"id": "dev", "episodes": 3, "seeds": {"first": 0}},
            {"id": "test", "visibility": "hidden", "episodes": 3, "seeds": "secret"},
        ],
    }


def mutate(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or with DELETE remove) the field at a dotted path; digits index lists."""
    *parents, last = path.split(".")
    node: Any = spec
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return spec


def spec_with(*changes: tuple[str, Any]) -> ChallengeSpec:
    spec = valid()
    for path, value in changes:
        mutate(spec, path, value)
    return parse_challenge(spec)


def spec_error(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_challenge(data)
    message = str(caught.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    return message


def test_the_minimal_spec_loads():
    spec = parse_challenge(valid())
    assert spec.id == "demo"
    assert [p.id for p in spec.phases] == ["dev", "test"]


# --- built-in challenges ---------------------------------------------------------------------


@pytest.mark.parametrize("challenge_id", builtin_challenge_ids())
def test_builtin_challenge_is_usable(challenge_id):
    spec = get_challenge(challenge_id)
    assert spec.id == challenge_id
    env = spec.environment.make()
    env.close()
    dev, test = spec.phase("dev"), spec.phase("test")
    assert dev.visibility == "public" and not dev.seeds_hidden
    assert len(dev.seeds(spec.id)) == dev.episodes
    assert test.visibility == "hidden" and test.seeds_hidden
    assert spec.metrics.primary in spec.metrics.report


def test_builtin_challenges_yields_every_builtin_id():
    ids = builtin_challenge_ids()
    assert "cartpole" in ids
    assert [spec.id for spec in builtin_challenges()] == ids


# --- broken specs ------------------------------------------------------------------------------

PHASE = "phases.0"
BROKEN = [
    # (case, path, new value, words the message must contain)
    ("missing id", "id", DELETE, ["id is missing", "add it"]),
    ("uppercase id", "id", "Demo", ["id:", "lowercase letters, digits and '-'"]),
    ("id not text", "id", 12, ["id:", "lowercase letters"]),
    ("missing title", "title", DELETE, ["title is missing", "add it"]),
    (
        "unknown top-level field",
        "phase",
        [],
        ["phase is not a known field", "did you mean 'phases'"],
    ),
    ("top-level typo", "quota", {}, ["quota is not a known field", "did you mean 'quotas'"]),
    ("missing environment", "environment", DELETE, ["environment is missing", "add it"]),
    (
        "environment id typo",
        "environment.id",
        "CartPol-v1",
        ["environment.id", "'CartPol-v1' is not a registered", "did you mean 'CartPole-v1'"],
    ),
    (
        "unknown environment id",
        "environment.id",
        "Zzzzzz-v9",
        ["environment.id", "gymnasium.envs.registry"],
    ),
    (
        "kwargs not a mapping",
        "environment.kwargs",
        [1],
        ["environment.kwargs", "expected a mapping"],
    ),
    (
        "max_episode_steps 0",
        "environment.max_episode_steps",
        0,
        ["environment.max_episode_steps", "whole number of at least 1"],
    ),
    ("phases empty", "phases", [], ["phases:", "a list with at least one phase"]),
    ("phases not a list", "phases", {"id": "dev"}, ["phases:", "a list with at least one phase"]),
    ("phase not a mapping", PHASE, "dev", ["phases[0]", "expected a mapping"]),
    ("phase id missing", f"{PHASE}.id", DELETE, ["phases[0].id is missing"]),
    ("phase id uppercase", f"{PHASE}.id", "Dev", ["phases[0].id", "lowercase letters"]),
    ("episodes 0", f"{PHASE}.episodes", 0, ["phases[0].episodes", "whole number of at least 1"]),
    ("episodes text", f"{PHASE}.episodes", "ten", ["phases[0].episodes", "whole number"]),
    ("episodes bool", f"{PHASE}.episodes", True, ["phases[0].episodes", "whole number"]),
    ("hidden seeds missing", "phases.1.seeds", DELETE, ["phases[1].seeds is missing"]),
    (
        "fresh seeds in a hidden phase",
        "phases.1.seeds",
        "fresh",
        ["phases[1].seeds", "the same for every submission", "use secret"],
    ),
    (
        "fewer seeds than episodes",
        f"{PHASE}.seeds",
        [1, 2],
        ["phases[0].seeds", "2 seeds for 3 episodes", "one seed per episode"],
    ),
    ("negative seed in list", f"{PHASE}.seeds", [1, -2, 3], ["phases[0].seeds[1]", "at least 0"]),
    (
        "negative first seed",
        f"{PHASE}.seeds",
        {"first": -1},
        ["phases[0].seeds.first", "at least 0"],
    ),
    (
        "unknown seeds field",
        f"{PHASE}.seeds",
        {"first": 0, "start": 3},
        ["phases[0].seeds.start is not a known field", "known fields: first"],
    ),
    (
        "secret seeds in a public phase",
        f"{PHASE}.seeds",
        "secret",
        ["phases[0].seeds", "public phase needs seeds participants can see", "{first: N}"],
    ),
    (
        "seeds a number",
        f"{PHASE}.seeds",
        5,
        ["phases[0].seeds", "expected a list of seeds, {first: N} or 'secret'"],
    ),
    (
        "seeds an unknown word",
        f"{PHASE}.seeds",
        "random",
        ["phases[0].seeds", "expected a list of seeds"],
    ),
    (
        "visibility private",
        f"{PHASE}.visibility",
        "private",
        ["phases[0].visibility", "'private' is not allowed", "public, hidden"],
    ),
    (
        "bad date",
        f"{PHASE}.start",
        "next tuesday",
        ["phases[0].start", "is not a date", "2026-12-01T00:00:00Z"],
    ),
    ("date a number", f"{PHASE}.end", 5, ["phases[0].end", "expected a date"]),
    (
        "unknown phase field",
        f"{PHASE}.episode",
        3,
        ["phases[0].episode", "did you mean 'episodes'"],
    ),
    ("step_timeout word", "limits.step_timeout", "fast", ["limits.step_timeout", "500ms, 30s"]),
    ("step_timeout 0", "limits.step_timeout", 0, ["limits.step_timeout", "must be more than 0"]),
    ("step_timeout negative", "limits.step_timeout", -1, ["limits.step_timeout", "more than 0"]),
    ("timeout in words", "limits.episode_timeout", "5 minutes", ["limits.episode_timeout", "5m"]),
    ("memory words", "limits.memory", "2 gigs", ["limits.memory", "is not a size", "512MiB"]),
    ("memory too small", "limits.memory", "32MiB", ["limits.memory", "allow at least 64MiB"]),
    ("memory 0", "limits.memory", 0, ["limits.memory", "must be more than 0"]),
    ("cpus 0", "limits.cpus", 0, ["limits.cpus", "must be more than 0"]),
    ("limits typo", "limits.step_timout", "1s", ["did you mean 'step_timeout'"]),
    ("primary unknown", "metrics.primary", "best", ["metrics.primary", "use one of mean_return"]),
    ("higher_is_better text", "metrics.higher_is_better", "yes", ["metrics.higher_is_better"]),
    ("report not a list", "metrics.report", "mean_return", ["metrics.report", "expected a list"]),
    (
        "report unknown metric",
        "metrics.report",
        ["mean_return", "avg_return"],
        ["metrics.report[1]", "'avg_return' is not allowed", "mean_return"],
    ),
    (
        "success_rate without success",
        "metrics.report",
        ["mean_return", "success_rate"],
        ["metrics.success", "success_rate needs a definition of success", "{min_return: X}"],
    ),
    (
        "success unknown rule",
        "metrics.success",
        "sometimes",
        ["metrics.success", "'sometimes' is not allowed", "terminated, truncated, info"],
    ),
    (
        "min_return not a number",
        "metrics.success",
        {"min_return": "high"},
        ["metrics.success.min_return", "expected a number"],
    ),
    ("info not a list", "metrics.info", "gold", ["metrics.info", "expected a list", "[gold, nll]"]),
    (
        "info name uppercase",
        "metrics.info",
        ["gold", "NLL"],
        ["metrics.info[1]", "'NLL' must start with a lowercase letter", "e.g. gold"],
    ),
    ("info name a number", "metrics.info", [2], ["metrics.info[0]", "2 must start with"]),
    ("info name too long", "metrics.info", ["g" * 33], ["metrics.info[0]", "up to 31"]),
    ("info name twice", "metrics.info", ["gold", "gold"], ["metrics.info[1]", "listed twice"]),
    (
        "info name built in",
        "metrics.info",
        ["length"],
        ["metrics.info[0]", "mean_length is a built-in metric", "leave length out"],
    ),
    (
        "info primary undeclared",
        "metrics.primary",
        "mean_gold",
        ["metrics.primary", "'mean_gold'", "add gold to metrics.info"],
    ),
    (
        "info report undeclared",
        "metrics.report",
        ["mean_return", "mean_nll"],
        ["metrics.report[1]", "add nll to metrics.info"],
    ),
    (
        "info tie_breaker undeclared",
        "metrics.tie_breaker",
        "mean_nll",
        ["metrics.tie_breaker", "add nll to metrics.info"],
    ),
    (
        "info tie_breaker metric undeclared",
        "metrics.tie_breaker",
        {"metric": "mean_nll", "higher_is_better": False},
        ["metrics.tie_breaker.metric", "add nll to metrics.info"],
    ),
    (
        "mean_ typo of a built-in",
        "metrics.primary",
        "mean_retrun",
        ["metrics.primary", "did you mean 'mean_return'?", "add retrun to metrics.info"],
    ),
    (
        "unknown metric mentions info",
        "metrics.primary",
        "best",
        ["'best' is not allowed", "success_rate, or mean_x for a number x listed in metrics.info"],
    ),
    ("per_day 0", "quotas.per_day", 0, ["quotas.per_day", "whole number of at least 1"]),
    ("quotas unknown field", "quotas.per_week", 3, ["quotas.per_week is not a known field"]),
]


@pytest.mark.parametrize(
    ("path", "value", "words"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN]
)
def test_broken_spec_names_the_field_and_the_fix(path, value, words):
    message = spec_error(mutate(valid(), path, value))
    for word in words:
        assert word in message


def test_end_before_start_is_refused():
    spec = valid()
    spec["phases"][0].update(start="2027-01-02T00:00:00Z", end="2027-01-01T00:00:00Z")
    message = spec_error(spec)
    assert "phases[0].end" in message and "is not after start" in message
    assert "fix the dates" in message


def test_end_equal_to_start_is_refused():
    spec = valid()
    spec["phases"][1].update(start="2027-01-01", end="2027-01-01")
    assert "phases[1].end" in spec_error(spec)


def test_duplicate_phase_ids_are_refused():
    spec = valid()
    spec["phases"][1]["id"] = "dev"
    message = spec_error(spec)
    assert "phases:" in message and "'dev' is used twice" in message
    assert "its own id" in message


def test_second_phase_errors_name_their_index():
    message = spec_error(mutate(valid(), "phases.1.visibility", "secret"))
    assert message.startswith("phases[1].visibility:")


def test_misspelt_phases_field_is_named_as_the_typo():
    spec = valid()
    spec["phase"] = spec.pop("phases")
    message = spec_error(spec)
    assert message.startswith("phase is not a known field") and "did you mean 'phases'" in message


def test_unknown_seeds_field_alone_is_named():
    message = spec_error(mutate(valid(), "phases.0.seeds", {"start": 3}))
    assert "start" in message  # today: "phases[0].seeds.first is missing: add it"


@pytest.mark.parametrize("path", ["id", "phases.0.id"])
def test_id_with_a_trailing_newline_is_refused(path):
    spec = valid()
    value = "demo\n" if path == "id" else "dev\n"
    spec_error(mutate(spec, path, value))


# --- documents ---------------------------------------------------------------------------------


def test_yaml_syntax_error_reports_the_line():
    text = "id: demo\ntitle: Demo\nenvironment: {id: CartPole-v1\nphases: []\n"
    with pytest.raises(SpecError) as caught:
        parse_challenge_yaml(text)
    message = str(caught.value)
    assert "not valid YAML at line" in message and "fix the syntax" in message
    assert "\n" not in message


def test_yaml_error_line_number_is_where_the_problem_is():
    text = "id: demo\ntitle: Demo\nenvironment:\n  id: CartPole-v1\n\tkwargs: {}\n"
    with pytest.raises(SpecError, match="at line 5"):
        parse_challenge_yaml(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- id: demo\n- title: Demo\n", "got list"), ("just words\n", "got str"), ("", "got nothing")],
    ids=["list", "scalar", "empty"],
)
def test_document_that_is_not_a_mapping_is_refused(text, kind):
    with pytest.raises(SpecError) as caught:
        parse_challenge_yaml(text)
    message = str(caught.value)
    assert message.startswith("the spec: expected a mapping of fields")
    assert kind in message


def test_spec_from_yaml_text_equals_spec_from_the_same_dict():
    assert parse_challenge_yaml(yaml.safe_dump(valid())) == parse_challenge(valid())


# --- limits and metrics forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        (2.5, 2.5),
        (3, 3.0),
        ("7", 7.0),
    ],
)
def test_durations_are_read_as_seconds(value, seconds):
    assert spec_with(("limits.step_timeout", value)).limits.step_timeout == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512MiB", 512 * 2**20),
        ("1GB", 10**9),
        ("2g", 2 * 10**9),
        ("1.5GiB", 3 * 2**29),
        ("64MiB", 64 * 2**20),
        (268435456, 268435456),
    ],
)
def test_memory_sizes_are_read_as_bytes(value, size):
    assert spec_with(("limits.memory", value)).limits.memory_bytes == size


def test_defaults_apply_when_limits_metrics_and_quotas_are_left_out():
    spec = parse_challenge(valid())
    assert spec.limits.step_timeout == 1.0 and spec.limits.memory_bytes == 2 * 2**30
    assert spec.metrics.primary == "mean_return" and spec.metrics.success is None
    assert spec.quotas.per_day is None and spec.quotas.total is None


def test_primary_metric_is_added_to_the_report():
    spec = spec_with(("metrics.primary", "max_return"), ("metrics.report", ["mean_return"]))
    assert spec.metrics.report == ("max_return", "mean_return")


def test_min_return_success_rule_is_read():
    spec = spec_with(("metrics.success", {"min_return": 195}))
    assert spec.metrics.success == "min_return"
    assert spec.metrics.success_min_return == 195.0


def test_every_metric_can_be_reported():
    spec = spec_with(("metrics.success", "terminated"), ("metrics.report", list(METRICS)))
    assert spec.metrics.report == METRICS


INFO_METRICS = """
primary: mean_return
info: [gold, nll, distinct_2]   # numbers the environment puts in the info of an episode's last step
report: [mean_return, mean_gold, mean_nll, mean_distinct_2, mean_length]
tie_breaker: {metric: mean_nll, higher_is_better: false}
"""


def test_info_names_become_metrics_for_report_and_tie_breaker():
    metrics = spec_with(("metrics", yaml.safe_load(INFO_METRICS))).metrics
    assert metrics.info == ("gold", "nll", "distinct_2")
    assert metrics.report == (
        "mean_return",
        "mean_gold",
        "mean_nll",
        "mean_distinct_2",
        "mean_length",
    )
    assert (metrics.tie_breaker, metrics.tie_breaker_higher_is_better) == ("mean_nll", False)
    assert metrics.names == (*METRICS, "mean_gold", "mean_nll", "mean_distinct_2")


def test_an_info_metric_can_be_primary_and_is_reported_first():
    metrics = spec_with(
        ("metrics.info", ["gold"]),
        ("metrics.primary", "mean_gold"),
        ("metrics.tie_breaker", "mean_gold"),
    ).metrics
    assert metrics.primary == "mean_gold" and metrics.report[0] == "mean_gold"
    # As for any metric but std_return, a bare tie-breaker means higher is better.
    assert metrics.tie_breaker_higher_is_better is True


def test_no_info_by_default_and_an_empty_list_is_allowed():
    assert spec_with().metrics.info == ()
    assert spec_with(("metrics.info", [])).metrics.info == ()


def test_unknown_metric_lists_the_declared_info_metrics():
    message = spec_error(
        mutate(mutate(valid(), "metrics.info", ["gold", "nll"]), "metrics.report", ["avg"])
    )
    assert "use one of mean_return" in message and "success_rate, mean_gold, mean_nll" in message


# --- seeds -------------------------------------------------------------------------------------


def phase_with(seeds: object, episodes: int = 3, visibility: str = "public", phase_id: str = "dev"):
    spec = valid()
    spec["phases"] = [
        {"id": phase_id, "visibility": visibility, "episodes": episodes, "seeds": seeds}
    ]
    return parse_challenge(spec).phases[0]


@pytest.mark.parametrize("count", [1, 3, 50])
def test_first_seed_counts_up_for_any_count(count):
    phase = phase_with({"first": 1000})
    assert phase.seeds("demo", count) == list(range(1000, 1000 + count))


def test_asking_for_no_episodes_is_refused():
    with pytest.raises(SpecError, match="ask for at least 1"):
        phase_with({"first": 1000}).seeds("demo", 0)


def test_first_seed_gives_one_seed_per_episode_by_default():
    assert phase_with({"first": 7}, episodes=4).seeds("demo") == [7, 8, 9, 10]


def test_seed_list_gives_its_first_seeds():
    phase = phase_with([3, 14, 15, 92], episodes=3)
    assert phase.seeds("demo") == [3, 14, 15]
    assert phase.seeds("demo", 2) == [3, 14]
    assert phase.seeds("demo", 4) == [3, 14, 15, 92]


def test_seed_list_refuses_more_seeds_than_it_holds():
    phase = phase_with([3, 14, 15], episodes=3)
    with pytest.raises(SpecError, match="lists 3 seeds: ask for at most 3 episodes"):
        phase.seeds("demo", 4)


def hidden(phase_id: str = "test"):
    return phase_with("secret", visibility="hidden", phase_id=phase_id)


def test_secret_seeds_repeat_for_the_same_secret():
    assert hidden().seeds("demo", 20, b"k1") == hidden().seeds("demo", 20, b"k1")


def test_secret_seeds_differ_between_secrets_phases_and_challenges():
    base = hidden("test").seeds("demo", 20, b"k1")
    assert hidden("test").seeds("demo", 20, b"k2") != base
    assert hidden("final").seeds("demo", 20, b"k1") != base
    assert hidden("test").seeds("other", 20, b"k1") != base


def test_secret_seeds_are_distinct_non_negative_31_bit_ints():
    seeds = hidden().seeds("demo", 500, b"platform secret")
    assert len(seeds) == 500 and len(set(seeds)) == 500
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)


def test_secret_seeds_prefix_does_not_depend_on_count():
    phase = hidden()
    assert phase.seeds("demo", 5, b"k") == phase.seeds("demo", 10, b"k")[:5]


def test_secret_seeds_without_the_secret_point_to_a_public_phase():
    with pytest.raises(SpecError) as caught:
        hidden().seeds("demo")
    message = str(caught.value)
    assert "hidden seeds that only the platform knows" in message
    assert "evaluate on a public phase" in message and "\n" not in message


def test_hidden_phase_may_use_listed_seeds():
    phase = phase_with([5, 6], episodes=2, visibility="hidden")
    assert not phase.seeds_hidden and phase.seeds("demo") == [5, 6]


# --- finding challenges and phases -------------------------------------------------------------


def test_unknown_phase_lists_the_phases():
    with pytest.raises(SpecError) as caught:
        parse_challenge(valid()).phase("final")
    message = str(caught.value)
    assert "no phase 'final'" in message and "choose one of dev, test" in message


def test_unknown_challenge_suggests_the_closest_builtin():
    with pytest.raises(SpecError) as caught:
        get_challenge("cartpol")
    message = str(caught.value)
    assert "unknown challenge 'cartpol'" in message and "did you mean 'cartpole'?" in message
    assert "path of a challenge YAML file" in message and "\n" not in message


def test_unknown_challenge_without_a_close_match_lists_the_builtins():
    with pytest.raises(SpecError) as caught:
        get_challenge("zzzzzzzz")
    message = str(caught.value)
    assert "did you mean" not in message
    assert ", ".join(builtin_challenge_ids()) in message


@pytest.mark.parametrize("name", ["mine.yaml", "mine.yml", "mine-no-suffix"])
def test_get_challenge_loads_a_yaml_file(tmp_path, name):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(valid()), encoding="utf-8")
    assert get_challenge(path) == parse_challenge(valid())
    assert get_challenge(str(path)) == parse_challenge(valid())


def test_load_challenge_of_a_missing_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as caught:
        load_challenge(missing)
    message = str(caught.value)
    assert str(missing) in message and "No such file" in message and "\n" not in message


def test_get_challenge_of_a_missing_yaml_path_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        get_challenge(tmp_path / "nope.yaml")


def test_challenge_file_that_is_not_utf8_is_a_spec_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        yaml.safe_dump({**valid(), "title": "Café"}, allow_unicode=True).encode("latin-1")
    )
    with pytest.raises(SpecError):
        load_challenge(path)


# --- timestamps --------------------------------------------------------------------------------


HIDDEN_PHASE_YAML = """\
id: demo
title: Demo
environment: {{id: CartPole-v1}}
phases:
  - id: test
    visibility: hidden
    episodes: 3
    seeds: secret
    start: {start}
"""


def dated(start: object, end: object = None):
    spec = valid()
    spec["phases"][1].update({"start": start} if end is None else {"start": start, "end": end})
    return parse_challenge(spec).phases[1]


def test_naive_yaml_date_becomes_midnight_utc():
    phase = parse_challenge_yaml(HIDDEN_PHASE_YAML.format(start="2026-12-01")).phases[0]
    assert phase.start == datetime(2026, 12, 1, tzinfo=UTC)


def test_naive_datetime_text_becomes_utc():
    assert dated("2026-12-01T08:30:00").start == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def test_z_suffix_is_utc():
    start = dated("2026-12-01T00:00:00Z").start
    assert start == datetime(2026, 12, 1, tzinfo=UTC)
    assert start is not None and start.utcoffset() == timedelta(0)


def test_yaml_timestamp_with_z_is_utc():
    phase = parse_challenge_yaml(HIDDEN_PHASE_YAML.format(start="2026-12-01T00:00:00Z")).phases[0]
    assert phase.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert phase.start is not None and phase.start.utcoffset() == timedelta(0)


def test_offsets_are_kept_and_compared_in_absolute_time():
    phase = dated("2026-12-01T10:00:00+02:00", "2026-12-01T09:00:00Z")
    assert phase.start is not None
    assert phase.start.utcoffset() == timedelta(hours=2)
    assert phase.start == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(SpecError, match="is not after start"):
        dated("2026-12-01T10:00:00+02:00", "2026-12-01T08:00:00Z")


def test_datetime_objects_are_accepted():
    tz = timezone(timedelta(hours=-5))
    assert dated(datetime(2026, 12, 1, tzinfo=tz)).start == datetime(2026, 12, 1, 5, tzinfo=UTC)


def test_parsing_does_not_change_the_input():
    spec = valid()
    before = copy.deepcopy(spec)
    parse_challenge(spec)
    assert spec == before


def test_builtin_loaded_from_its_file_equals_the_builtin_by_id():
    path = Path(__file__).parents[2] / "aigc" / "submissions" / "challenges" / "cartpole.yaml"
    assert get_challenge(path) == get_challenge("cartpole")


# --- how reported metrics are shown ----------------------------------------------------------


def test_reported_metrics_get_titles_and_directions_by_default():
    metrics = spec_with(
        ("metrics.success", "truncated"),
        ("metrics.info", ["gold"]),
        (
            "metrics.report",
            ["mean_return", "std_return", "success_rate", "mean_length", "mean_gold"],
        ),
    ).metrics
    shown = {name: (s.title, s.arrow) for name in metrics.report for s in [metrics.show(name)]}
    assert shown == {
        "mean_return": ("Mean return", "↑"),
        "std_return": ("Std of return", "↓"),
        "success_rate": ("Success rate", "↑"),
        "mean_length": ("Mean length", ""),  # long is good in one environment, bad in another
        "mean_gold": ("Mean gold", ""),
    }


def test_a_reported_metric_can_carry_its_title_and_direction():
    metrics = spec_with(
        ("metrics.info", ["nll"]),
        (
            "metrics.report",
            [
                {"metric": "mean_return", "title": "Reward   model"},
                {"metric": "mean_nll", "title": "NLL per token", "better": "lower"},
                {"metric": "mean_length", "better": "neither"},
            ],
        ),
    ).metrics
    assert metrics.report == ("mean_return", "mean_nll", "mean_length")
    assert [(s.title, s.direction) for s in map(metrics.show, metrics.report)] == [
        ("Reward model", "higher is better"),
        ("NLL per token", "lower is better"),
        ("Mean length", ""),
    ]


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"metric": "mean_return", "better": "lower"}, "which says higher is better: leave better"),
        ({"metric": "std_return", "better": "higher"}, "tie_breaker, which says lower is better"),
        ({"metric": "mean_length", "better": "up"}, "use one of higher, lower, neither"),
        ({"metric": "mean_length", "title": "x" * 41}, "at most 40 printable characters"),
        ({"metric": "mean_length", "title": "a\x1bb"}, "at most 40 printable characters"),
        ({"metric": "mean_length", "colour": "red"}, "known fields: metric, title, better"),
        ({"title": "Length"}, "metrics.report[1].metric is missing"),
    ],
)
def test_a_bad_reported_metric_is_refused_with_the_fix(entry, words):
    message = spec_error(mutate(valid(), "metrics.report", ["mean_return", entry]))
    assert message.startswith("metrics.report[1]") and words in message


def test_the_text_board_titles_its_metrics():
    from aigc.submissions.challenge import builtin_challenges

    textgen = next(spec for spec in builtin_challenges() if spec.id == "textgen").metrics
    headings = [(s.title, s.arrow) for s in map(textgen.show, textgen.report)]
    assert ("Gold judge", "↑") in headings and ("NLL per token", "↓") in headings


def test_runtime_packages_are_read_as_pip_requirements():
    spec = spec_with(("runtime", {"packages": ["stable-baselines3==2.9.2", "pandas>=2,<3"]}))
    assert spec.runtime.packages == ("stable-baselines3==2.9.2", "pandas>=2,<3")
    assert parse_challenge(valid()).runtime.packages == ()


@pytest.mark.parametrize(
    ("packages", "words"),
    [
        (["--index-url=http://127.0.0.1/simple"], "no URLs, paths or pip options"),
        (["-e", "."], "no URLs, paths or pip options"),
        (["git+https://127.0.0.1/x.git"], "no URLs, paths or pip options"),
        (["./wheel.whl"], "no URLs, paths or pip options"),
        (["name; python_version<'3'"], "no URLs, paths or pip options"),
        (["pkg @ file:///etc/passwd"], "no URLs, paths or pip options"),
        (["my_pkg==1", "My.Pkg"], "my-pkg is listed twice"),
        ("stable-baselines3", "expected a list of requirements"),
        ([["nested"]], "expected text"),
        ([f"p{i}" for i in range(33)], "at most 32"),
    ],
)
def test_hostile_runtime_packages_are_refused_with_the_fix(packages, words):
    spec = valid()
    spec["runtime"] = {"packages": packages}
    message = spec_error(spec)
    assert message.startswith("runtime.packages") and words in message, message


def test_runtime_has_only_packages():
    spec = valid()
    spec["runtime"] = {"packges": ["x"]}
    assert "did you mean 'packages'?" in spec_error(spec)
