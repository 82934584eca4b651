"""The ``aigc`` command, run as a participant runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from click.testing import CliRunner

from aigc.cli import main
from tests.submissions.conftest import HOSTILE, agent


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_init_check_evaluate_a_starter_agent(tmp_path):
    folder = tmp_path / "my-agent"
    code, output = run("init-agent", str(folder), "--challenge", "cartpole")
    assert code == 0, output
    assert f"aigc check {folder}" in output

    code, output = run("check", str(folder), "--sandbox", "local")
    assert code == 0, output
    assert "✓ actions" in output and "The package is ready to submit." in output
    assert "unsandboxed" in output  # the local sandbox says what it is

    result_file = tmp_path / "result.json"
    code, output = run("evaluate", str(folder), "--episodes", "5", "--json", str(result_file))
    assert code == 0, output
    assert "mean_return (primary)" in output and "5 of 5" in output
    result = json.loads(result_file.read_text())
    assert result["challenge"] == "cartpole" and result["agent"] == "my-agent"
    assert [e["seed"] for e in result["episodes"]] == [1000, 1001, 1002, 1003, 1004]


def test_evaluate_a_zip_archive(tmp_path):
    archive = tmp_path / "agent.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in agent("good").iterdir():
            if path.is_file():
                zf.write(path, f"good/{path.name}")
    code, output = run("evaluate", str(archive), "-c", "cartpole", "-n", "3")
    assert code == 0, output
    assert "good on cartpole/dev" in output


def test_failed_evaluation_exits_nonzero_with_the_reason(tmp_path):
    code, output = run("evaluate", str(agent("out_of_range")), "-c", "cartpole", "-n", "2")
    assert code == 1
    assert "Evaluation failed (invalid_action): action 5 is outside Discrete(2)" in output


def test_an_agents_escape_sequences_are_printed_escaped():
    hostile = HOSTILE / "escape_failure"
    for command in ("evaluate", "check"):
        code, output = run(command, str(hostile), "-c", "cartpole", "--sandbox", "local")
        assert code == 1, output
        assert "RuntimeError in act" in output
        assert (
            "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m red \\u202eevil\\u2066 nul:\\x00 [/bold]" in output
        )
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output)


def test_check_reports_the_failing_step(tmp_path):
    code, output = run("check", str(agent("crash_init")), "--challenge", "cartpole")
    assert code == 1
    assert "✗ agent starts: the agent raised ValueError in __init__" in output


def test_hidden_phase_is_refused_before_anything_runs(tmp_path):
    code, output = run("evaluate", str(agent("good")), "-c", "cartpole", "--phase", "test")
    assert code == 1
    assert "hidden seeds" in output and "--phase dev" in output
    assert "unsandboxed" not in output


def test_unknown_challenge_suggests_the_closest(tmp_path):
    code, output = run("init-agent", str(tmp_path / "a"), "--challenge", "cartpol")
    assert code == 1
    assert "did you mean 'cartpole'?" in output


def test_no_challenge_anywhere_names_both_fixes():
    code, output = run("evaluate", str(agent("good")))
    assert code == 1
    assert "--challenge ID" in output and "aigc.toml" in output


def test_bad_archive_is_one_line(tmp_path):
    fake = tmp_path / "agent.zip"
    fake.write_text("not an archive")
    code, output = run("evaluate", str(fake), "-c", "cartpole")
    assert code == 1
    assert output.count("\n") == 1 and "upload a .zip or .tar.gz" in output


def test_the_installed_command_runs(tmp_path):
    folder = tmp_path / "agent"
    command = [sys.executable, "-m", "aigc"]
    subprocess.run([*command, "init-agent", str(folder), "-c", "frozenlake"], check=True)
    done = subprocess.run(
        [*command, "evaluate", str(folder), "-n", "3"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "success_rate (primary)" in done.stdout
    assert Path(folder / "agent.py").read_text().count("Discrete(16)") == 1


def test_docker_is_the_sandbox_when_an_engine_answers(docker_sandbox):
    code, output = run("evaluate", str(agent("good")), "-c", "cartpole", "-n", "3")
    assert code == 0, output
    assert "unsandboxed" not in output
    assert "agent startup" in output


def test_sandbox_build_prints_the_image_and_reap_reports(docker_sandbox):
    code, output = run("sandbox", "build")
    assert code == 0 and output.strip() == docker_sandbox.image
    code, output = run("sandbox", "reap")
    assert code == 0 and output.startswith("removed 0 container(s)")


def test_progress_lines_from_docker_print_verbatim():
    from aigc.cli.console import err, show_progress

    with err.capture() as captured:
        show_progress('RUN echo "agent:x:10001:10001" >> /etc/passwd [dim]')
    assert captured.get() == 'RUN echo "agent:x:10001:10001" >> /etc/passwd [dim]\n'


def test_evaluate_replays_the_seeds_it_is_given(tmp_path):
    result_file = tmp_path / "result.json"
    code, output = run(
        "evaluate", str(agent("good")), "-c", "cartpole", "--seeds", "7, 42,1000-1002",
        "--json", str(result_file),
    )  # fmt: skip
    assert code == 0, output
    assert "5 of 5" in output
    seeds = [e["seed"] for e in json.loads(result_file.read_text())["episodes"]]
    assert seeds == [7, 42, 1000, 1001, 1002]
    code, output = run("evaluate", str(agent("good")), "-c", "cartpole", "--seeds", "1000-x")
    assert code == 1 and output.strip().splitlines() == [
        "Error: --seeds: '1000-x' is not a seed or a range: write e.g. 7,42,1000-1009"
    ]


def test_a_fresh_phase_evaluated_locally_repeats_its_seeds(tmp_path):
    runs = []
    for name in ("a.json", "b.json"):
        code, output = run(
            "evaluate", str(agent("random")), "-c", "frozenlake", "-n", "5", "--sandbox", "local",
            "--json", str(tmp_path / name),
        )  # fmt: skip
        assert code == 0, output
        runs.append([e["seed"] for e in json.loads((tmp_path / name).read_text())["episodes"]])
    assert runs[0] == runs[1] and len(set(runs[0])) == 5 and 1000 not in runs[0]


def test_check_warns_that_a_requirements_file_is_ignored(tmp_path):
    folder = tmp_path / "a"
    assert run("init-agent", str(folder), "--challenge", "cartpole")[0] == 0
    (folder / "requirements.txt").write_text("stable-baselines3\n")
    code, output = run("check", str(folder), "--sandbox", "local")
    assert code == 0, output
    assert "! packages: requirements.txt ignored: this challenge's runtime holds numpy" in output
    assert "The package is ready to submit." in output
