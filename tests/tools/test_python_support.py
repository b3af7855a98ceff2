"""The install step's Python checks: exactly the versions requires-python names are accepted,
and durable-rules is patched for exactly the Pythons that removed PyEval_CallObject."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools import check_python, durable_rules_wheel, install

ROOT = Path(__file__).resolve().parents[2]


def test_requires_python_names_the_versions_the_project_runs_on() -> None:
    spec = check_python.requires_python((ROOT / "pyproject.toml").read_text())
    assert check_python.supported(spec) == ["3.11", "3.12", "3.13"]


@given(st.integers(0, 29), st.integers(0, 29), st.integers(0, 29))
def test_a_range_allows_exactly_the_versions_inside_it(low: int, high: int, minor: int) -> None:
    spec = f">=3.{low},<3.{high}"
    assert check_python.allows(spec, (3, minor)) == (low <= minor < high)


def test_an_unsupported_python_is_refused_with_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check_python.main((3, 10), "/usr/bin/python3.10") == 1
    message = capsys.readouterr().err
    assert "needs Python 3.11, 3.12, 3.13" in message
    assert "/usr/bin/python3.10 is Python 3.10" in message
    assert "make install PYTHON=python3.13" in message
    assert check_python.main((3, 14), "python3.14") == 1
    assert check_python.main((3, 13), "python3.13") == 0


def test_the_check_runs_as_a_script_under_this_interpreter() -> None:
    script = ROOT / "tools" / "check_python.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_durable_rules_is_patched_from_python_3_13_on_only() -> None:
    assert not durable_rules_wheel.needs_fix((3, 11))
    assert not durable_rules_wheel.needs_fix((3, 12))
    assert durable_rules_wheel.needs_fix((3, 13))
    assert durable_rules_wheel.needs_fix((3, 14))


CALL = "    result = PyEval_CallObject(callback, arglist);\n"


def test_the_patch_replaces_every_removed_call_and_nothing_else() -> None:
    source = "static int f(void) {\n" + CALL * 5 + "    return PyEval_SaveThread();\n}\n"
    patched = durable_rules_wheel.patch_binding(source)
    assert "PyEval_CallObject" not in patched
    assert patched.count("PyObject_CallObject(callback, arglist);") == 5
    assert "PyEval_SaveThread()" in patched
    assert patched.replace("PyObject_CallObject", "PyEval_CallObject") == source


@pytest.mark.parametrize("calls", [0, 4, 6])
def test_a_source_other_than_2_0_28s_is_refused_not_half_patched(calls: int) -> None:
    with pytest.raises(durable_rules_wheel.BuildError, match=f"found {calls}"):
        durable_rules_wheel.patch_binding(CALL * calls)


def test_a_cached_wheel_for_the_interpreter_is_used_without_building(tmp_path: Path) -> None:
    python = durable_rules_wheel.Interpreter("python3.13", (3, 13), "cp313-cp313")
    folder = durable_rules_wheel.wheel_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "durable_rules-2.0.28-cp312-cp312-linux_x86_64.whl").touch()
    assert durable_rules_wheel.cached_wheel(tmp_path, python) is None
    wheel = folder / "durable_rules-2.0.28-cp313-cp313-linux_x86_64.whl"
    wheel.touch()
    said: list[str] = []
    assert durable_rules_wheel.ensure(python, tmp_path, install=False, say=said.append) == wheel
    assert said == [f"Python 3.13: using the patched durable-rules wheel {wheel}"]


def test_nothing_is_built_where_the_published_source_works(tmp_path: Path) -> None:
    python = durable_rules_wheel.Interpreter("python3.11", (3, 11), "cp311-cp311")
    assert durable_rules_wheel.ensure(python, tmp_path, install=False, say=lambda _: None) is None
    assert not any(tmp_path.iterdir())


def test_the_running_interpreter_is_probed_for_its_wheel_tag() -> None:
    found = durable_rules_wheel.probe(sys.executable)
    major, minor = sys.version_info[:2]
    assert found.version == (major, minor)
    assert found.tag == f"cp{major}{minor}-cp{major}{minor}"


def test_an_environment_of_another_python_version_is_replaced() -> None:
    assert install.same_minor("3.13.0", (3, 13))
    assert not install.same_minor("3.11.7", (3, 13))
    assert not install.same_minor(None, (3, 13))


def test_pip_output_is_condensed_to_progress_lines() -> None:
    shown: list[str] = []
    progress = install.PipProgress(shown.append)
    lines = [f"Collecting pkg{i}>=1\n" for i in range(1, 21)] + [
        "  Downloading pkg1-1.0.tar.gz (57 kB)\n",
        "Building wheels for collected packages: durable-rules\n",
        "  Building wheel for durable-rules (setup.py): started\n",
        "  Building wheel for durable-rules (setup.py): finished with status 'done'\n",
        "Installing collected packages: pkg1, pkg2, pkg3\n",
        "Successfully installed pkg1-1.0 pkg2-1.0 pkg3-1.0\n",
    ]
    for line in lines:
        progress.feed(line)
    assert shown == [
        "collected 1 packages (pkg1>=1)",
        "collected 10 packages (pkg10>=1)",
        "collected 20 packages (pkg20>=1)",
        "building wheels for collected packages",
        "building wheel for durable-rules",
        "installing 3 packages",
        "installed 3 packages",
    ]
    assert progress.tail(2) == "".join(lines[-2:])
