"""Actions no wire can carry are invalid actions, with a line that says what to return.

float128, integers beyond 64 bits, complex numbers and an ``__array__`` that raises once
crashed the agent runtime, which the evaluator reported as agent_exited with the runtime's
own traceback. Run in the local sandbox and, with the real engine, in Docker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aigc.submissions import results as r
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

from .conftest import make_challenge

HOSTILE = Path(__file__).parent / "hostile"
pytestmark = pytest.mark.hostile

KINDS = {
    "float128": "dtype float128: return int, float, or an array of int64 or float32/float64",
    "complex": "complex128 np.complex128(1+0j): return a number or numeric array",
    "huge_int": "int 1180591620717411303424: return a number or numeric array",
    "huge_int_array": "list [1180591620717411303424]: return a number or numeric array",
    "raising_array": "RaisingArray ?, which is no array (RuntimeError): return a number",
}


@pytest.fixture(params=["local", "docker"])
def sandbox(request):
    if request.param == "local":
        return LocalSandbox()
    return request.getfixturevalue("docker_sandbox")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_exotic_action_is_an_invalid_action(sandbox, kind, tmp_path):
    package = tmp_path / "exotic_action"
    shutil.copytree(HOSTILE / "exotic_action", package)
    (package / "kind").write_text(kind)
    result = evaluate(package, make_challenge("CartPole-v1", episodes=2), sandbox=sandbox)
    assert result.failure is not None, result
    assert result.failure.code == r.INVALID_ACTION, result.failure
    assert KINDS[kind] in result.failure.message
    assert "Traceback" not in result.failure.message
