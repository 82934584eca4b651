"""Agent packages: the aigc.toml manifest, loading the entry point, archives, the starter."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from aigc.submissions.package import (
    MANIFEST,
    Manifest,
    PackageError,
    load_agent_class,
    open_package,
    read_manifest,
    write_starter_package,
)

AGENT_PY = """\
class Agent:
    def __init__(self, observation_space, action_space):
        self.action_space = action_space

    def act(self, observation):
        return 0
"""
VALID = 'name = "my-agent"\nentry_point = "agent:Agent"\n'


def write_package(folder: Path, manifest: str = VALID, **files: str) -> Path:
    """Write aigc.toml and the given files (relative path -> text; agent.py by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(manifest, encoding="utf-8")
    for name, text in (files or {"agent.py": AGENT_PY}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def manifest_error(tmp_path: Path, text: str) -> str:
    (tmp_path / MANIFEST).write_text(text, encoding="utf-8")
    with pytest.raises(PackageError) as caught:
        read_manifest(tmp_path)
    message = str(caught.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    return message


@pytest.fixture
def clean_imports():
    """Undo what load_agent_class does to sys.path and sys.modules, so loads don't leak."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


# --- read_manifest -----------------------------------------------------------------------------


def test_missing_manifest_points_to_init_agent(tmp_path):
    with pytest.raises(PackageError) as caught:
        read_manifest(tmp_path)
    message = str(caught.value)
    assert f"no aigc.toml in {tmp_path}" in message and "`aigc init-agent DIR`" in message
    assert "\n" not in message


def test_invalid_toml_asks_to_fix_the_syntax(tmp_path):
    message = manifest_error(tmp_path, 'name = "my-agent\nentry_point = "agent:Agent"\n')
    assert message.startswith("aigc.toml is not valid TOML (") and "fix the syntax" in message
    assert "line 1" in message


def test_manifest_that_is_not_utf8_is_invalid_toml(tmp_path):
    (tmp_path / MANIFEST).write_bytes(b'name = "caf\xe9"\nentry_point = "agent:Agent"\n')
    with pytest.raises(PackageError, match="is not valid TOML"):
        read_manifest(tmp_path)


def test_unknown_key_suggests_the_closest(tmp_path):
    message = manifest_error(tmp_path, 'name = "a"\nentrypoint = "agent:Agent"\n')
    assert "unknown key 'entrypoint'" in message and "did you mean 'entry_point'?" in message


def test_unknown_key_without_a_close_match_lists_the_keys(tmp_path):
    message = manifest_error(tmp_path, VALID + "[tool]\nx = 1\n")
    assert "unknown key 'tool'" in message
    assert "allowed: name, entry_point, description, challenge, framework" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = 5\nentry_point = "m:C"\n', "name"),
        ('name = "a"\nentry_point = ["agent:Agent"]\n', "entry_point"),
        (VALID + "description = true\n", "description"),
        (VALID + 'challenge = {id = "cartpole"}\n', "challenge"),
        (VALID + "framework = 2\n", "framework"),
    ],
)
def test_non_string_values_are_refused(tmp_path, text, key):
    assert f"aigc.toml: {key} must be a string in quotes" in manifest_error(tmp_path, text)


@pytest.mark.parametrize(
    "name",
    [None, "", "my agent", "a" * 65, "-leading-dash", "agent/evil"],
    ids=["missing", "empty", "space", "65 chars", "leading dash", "slash"],
)
def test_invalid_name_is_refused(tmp_path, name):
    text = 'entry_point = "agent:Agent"\n' + ("" if name is None else f'name = "{name}"\n')
    message = manifest_error(tmp_path, text)
    expected = "name is missing" if name is None else f"name {name!r} is invalid"
    assert message.startswith(f"aigc.toml: {expected}")
    assert 'name = "my-agent"' in message


def test_name_of_64_chars_is_accepted(tmp_path):
    (tmp_path / MANIFEST).write_text(f'name = "{"a" * 64}"\nentry_point = "m:C"\n')
    assert read_manifest(tmp_path).name == "a" * 64


@pytest.mark.parametrize(
    "entry_point",
    [None, "agent.Agent", "agent:", ":Agent", "1agent:Agent", "agent:Agent:x", "my-agent:Agent"],
)
def test_invalid_entry_point_is_refused(tmp_path, entry_point):
    text = 'name = "a"\n' + ("" if entry_point is None else f'entry_point = "{entry_point}"\n')
    message = manifest_error(tmp_path, text)
    if entry_point is None:
        assert message.startswith("aigc.toml: entry_point is missing")
    else:
        assert message.startswith(f"aigc.toml: entry_point {entry_point!r} is invalid")
        assert "write module:Class" in message
    assert 'entry_point = "agent:Agent"' in message


def test_unknown_framework_lists_the_frameworks(tmp_path):
    message = manifest_error(tmp_path, VALID + 'framework = "jax"\n')
    assert "framework 'jax' is unknown: use one of python, numpy, torch" in message


@pytest.mark.parametrize(
    "text",
    ['name = "my-agent\\n"\nentry_point = "agent:Agent"\n', 'name = "a"\nentry_point = "m:C\\n"\n'],
    ids=["name", "entry_point"],
)
def test_value_with_a_trailing_newline_is_refused(tmp_path, text):
    manifest_error(tmp_path, text)


def test_manifest_with_every_field_is_read(tmp_path):
    (tmp_path / MANIFEST).write_text(
        'name = "My_Agent.v2"\n'
        'entry_point = "brains.policy:Agent"\n'
        'description = "Pushes the cart."\n'
        'challenge = "cartpole"\n'
        'framework = "torch"\n',
        encoding="utf-8",
    )
    manifest = read_manifest(tmp_path)
    assert manifest == Manifest(
        name="My_Agent.v2",
        entry_point="brains.policy:Agent",
        description="Pushes the cart.",
        challenge="cartpole",
        framework="torch",
    )
    assert manifest.module == "brains.policy" and manifest.class_name == "Agent"


def test_manifest_defaults(tmp_path):
    (tmp_path / MANIFEST).write_text(VALID + 'challenge = ""\n', encoding="utf-8")
    manifest = read_manifest(tmp_path)
    assert manifest.description == "" and manifest.challenge is None
    assert manifest.framework == "numpy"


# --- load_agent_class --------------------------------------------------------------------------


def test_load_agent_class_imports_the_entry_point(tmp_path, clean_imports):
    folder = write_package(tmp_path / "pkg")
    agent_class = load_agent_class(folder, read_manifest(folder))
    assert agent_class.__name__ == "Agent" and hasattr(agent_class, "act")


def test_a_second_package_with_the_same_module_name_gets_its_own_class(tmp_path, clean_imports):
    first = write_package(tmp_path / "first")
    second = write_package(tmp_path / "second", **{"agent.py": "def Agent(): pass\n"})
    load_agent_class(first, read_manifest(first))
    # The cached "agent" module of the first package must not answer for the second.
    with pytest.raises(PackageError, match="defines no class 'Agent'"):
        load_agent_class(second, read_manifest(second))


def test_load_agent_class_from_a_subpackage(tmp_path, clean_imports):
    folder = write_package(
        tmp_path / "pkg",
        'name = "a"\nentry_point = "brains_for_test.policy:Agent"\n',
        **{"brains_for_test/__init__.py": "", "brains_for_test/policy.py": AGENT_PY},
    )
    agent_class = load_agent_class(folder, read_manifest(folder))
    assert agent_class.__module__ == "brains_for_test.policy"


def test_load_agent_class_from_a_package_init(tmp_path, clean_imports):
    folder = write_package(
        tmp_path / "pkg",
        'name = "a"\nentry_point = "policy_for_test:Agent"\n',
        **{"policy_for_test/__init__.py": AGENT_PY},
    )
    assert load_agent_class(folder, read_manifest(folder)).__name__ == "Agent"


def test_missing_entry_module_names_the_file(tmp_path, clean_imports):
    folder = write_package(tmp_path / "pkg", 'name = "a"\nentry_point = "brains.policy:Agent"\n')
    with pytest.raises(PackageError) as caught:
        load_agent_class(folder, read_manifest(folder))
    message = str(caught.value)
    assert "entry point module 'brains.policy' not found" in message
    assert "the package has no brains/policy.py" in message


def test_missing_class_names_the_class(tmp_path, clean_imports):
    folder = write_package(tmp_path / "pkg", 'name = "a"\nentry_point = "agent:Policy"\n')
    with pytest.raises(PackageError) as caught:
        load_agent_class(folder, read_manifest(folder))
    assert str(caught.value) == (
        "agent.py defines no class 'Policy': define it or fix entry_point in aigc.toml"
    )


def test_entry_point_that_is_not_a_class_is_refused(tmp_path, clean_imports):
    folder = write_package(tmp_path / "pkg", **{"agent.py": "def Agent(): pass\n"})
    with pytest.raises(PackageError, match="defines no class 'Agent'"):
        load_agent_class(folder, read_manifest(folder))


def test_class_without_act_or_act_batch_is_refused(tmp_path, clean_imports):
    folder = write_package(tmp_path / "pkg", **{"agent.py": "class Agent:\n    pass\n"})
    with pytest.raises(PackageError) as caught:
        load_agent_class(folder, read_manifest(folder))
    assert "class Agent has no act(observation) method" in str(caught.value)


def test_class_with_only_act_batch_is_accepted(tmp_path, clean_imports):
    code = "class Agent:\n    def act_batch(self, observations):\n        return [0]\n"
    folder = write_package(tmp_path / "pkg", **{"agent.py": code})
    assert hasattr(load_agent_class(folder, read_manifest(folder)), "act_batch")


# --- open_package ------------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path) -> Path:
    return write_package(tmp_path / "my-agent")


def zip_folder(folder: Path, archive: Path, arcname_prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, arcname_prefix + path.relative_to(folder).as_posix())
    return archive


def assert_is_the_package(folder: Path) -> None:
    assert read_manifest(folder).name == "my-agent"
    assert (folder / "agent.py").read_text(encoding="utf-8") == AGENT_PY


def test_open_package_of_a_folder_yields_the_folder(package):
    with open_package(package) as folder:
        assert folder == package
    assert package.is_dir()  # a folder is used in place, never removed


def test_open_package_of_a_folder_whose_only_subfolder_holds_the_package(package):
    with open_package(package.parent) as folder:
        assert folder == package


def test_open_package_of_a_zip_with_the_package_at_its_root(package, tmp_path):
    with open_package(zip_folder(package, tmp_path / "agent.zip")) as folder:
        assert_is_the_package(folder)


def test_open_package_of_a_zip_of_the_folder_itself(package, tmp_path):
    # What `zip -r agent.zip my-agent` makes: one top folder holding the package.
    archive = shutil.make_archive(
        str(tmp_path / "agent"), "zip", root_dir=package.parent, base_dir="my-agent"
    )
    with zipfile.ZipFile(archive) as zf:
        assert all(name.startswith("my-agent/") for name in zf.namelist())
    with open_package(Path(archive)) as folder:
        assert folder.name == "my-agent"
        assert_is_the_package(folder)


def test_open_package_ignores_macos_metadata_next_to_the_top_folder(package, tmp_path):
    archive = zip_folder(package, tmp_path / "agent.zip", "my-agent/")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/my-agent/._agent.py", b"\0")
    with open_package(archive) as folder:
        assert_is_the_package(folder)


def test_open_package_of_a_tar_gz(package, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "agent"), "gztar", root_dir=package)
    with open_package(Path(archive)) as folder:
        assert_is_the_package(folder)


def test_open_package_of_a_tar_gz_of_the_folder_itself(package, tmp_path):
    archive = shutil.make_archive(
        str(tmp_path / "agent"), "gztar", root_dir=package.parent, base_dir="my-agent"
    )
    with open_package(Path(archive)) as folder:
        assert_is_the_package(folder)


def test_archive_without_a_manifest_says_where_to_put_it(tmp_path):
    archive = tmp_path / "agent.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("agent.py", AGENT_PY)
    with pytest.raises(PackageError) as caught, open_package(archive):
        pass
    message = str(caught.value)
    assert "no aigc.toml at the top of the package" in message
    assert "put it next to the agent's code" in message


def test_folder_without_a_manifest_is_refused(tmp_path):
    (tmp_path / "agent.py").write_text(AGENT_PY)
    with pytest.raises(PackageError, match=r"no aigc\.toml at the top"), open_package(tmp_path):
        pass


def test_path_that_does_not_exist_is_refused(tmp_path):
    missing = tmp_path / "nope.zip"
    with pytest.raises(PackageError) as caught, open_package(missing):
        pass
    assert str(caught.value) == f"{missing} does not exist: give an agent folder, .zip or .tar.gz"


def test_text_file_posing_as_a_zip_is_one_line(tmp_path):
    fake = tmp_path / "agent.zip"
    fake.write_text("I am not a zip\nreally\n")
    with pytest.raises(PackageError) as caught, open_package(fake):
        pass
    message = str(caught.value)
    assert "'agent.zip' is not a .zip or .tar.gz archive" in message and "\n" not in message


def extraction_root(folder: Path) -> Path:
    """The temporary folder open_package made for an archive (aigc-package-*)."""
    return next(p for p in folder.parents if p.name.startswith("aigc-package-"))


def test_extraction_folder_is_removed_after_the_block(package, tmp_path):
    with open_package(zip_folder(package, tmp_path / "agent.zip")) as folder:
        root = extraction_root(folder)
        assert root.is_dir()
    assert not root.exists()


def test_extraction_folder_is_removed_when_the_block_raises(package, tmp_path):
    archive = zip_folder(package, tmp_path / "agent.zip", "my-agent/")
    with pytest.raises(RuntimeError, match="boom"), open_package(archive) as folder:
        root = extraction_root(folder)
        raise RuntimeError("boom")
    assert not root.exists()


def test_each_open_extracts_to_a_fresh_folder(package, tmp_path):
    archive = zip_folder(package, tmp_path / "agent.zip")
    with open_package(archive) as first, open_package(archive) as second:
        assert extraction_root(first) != extraction_root(second)
        assert_is_the_package(first)
        assert_is_the_package(second)


# --- write_starter_package ---------------------------------------------------------------------


def write_starter(folder: Path) -> None:
    write_starter_package(folder, "cartpole", "Box(4)", "Discrete(2)")


def test_starter_package_has_a_valid_manifest(tmp_path, clean_imports):
    folder = tmp_path / "my-agent"
    write_starter(folder)
    manifest = read_manifest(folder)
    assert manifest.name == "my-agent" and manifest.entry_point == "agent:Agent"
    assert manifest.challenge == "cartpole" and manifest.framework == "numpy"
    assert hasattr(load_agent_class(folder, manifest), "act")
    agent_py = (folder / "agent.py").read_text(encoding="utf-8")
    assert "Observation space: Box(4)" in agent_py and "Action space: Discrete(2)" in agent_py


def test_starter_package_may_go_into_an_existing_empty_folder(tmp_path):
    write_starter(tmp_path)
    assert read_manifest(tmp_path).entry_point == "agent:Agent"


def test_starter_package_creates_missing_parent_folders(tmp_path):
    write_starter(tmp_path / "a" / "b" / "agent")
    assert read_manifest(tmp_path / "a" / "b" / "agent").name == "agent"


def test_starter_package_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(PackageError) as caught:
        write_starter(tmp_path)
    assert str(caught.value) == f"{tmp_path} is not empty: choose a new folder for the agent"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("folder_name", "name"),
    [
        ("My Agent!", "My-Agent"),
        ("agent_v2.1", "agent_v2.1"),
        ("--weird--", "weird"),
        ("агент", "agent"),
        ("x" * 80, "x" * 64),
    ],
)
def test_starter_name_is_derived_from_the_folder_and_sanitised(tmp_path, folder_name, name):
    write_starter(tmp_path / folder_name)
    assert read_manifest(tmp_path / folder_name).name == name
