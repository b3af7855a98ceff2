"""durable-rules 2.0.28 for Pythons that its published source no longer builds for.

durable-rules is the policy engine's rules engine. Its newest release (2.0.28,
source only on PyPI) calls `PyEval_CallObject`, which Python 3.13 removed from
the C API: the extension still compiles, then fails to import with "undefined
symbol: PyEval_CallObject". Upstream replaced the call with
`PyObject_CallObject` (jruizgit/rules pull request 403) but has not released it.

For such an interpreter this script downloads the exact PyPI source (hash
checked), makes that one replacement, builds a wheel with the target
interpreter and keeps it in a cache, then (with `--install`) installs it into
that interpreter's environment. The version stays 2.0.28, so the project's pin
`durable-rules==2.0.28` is satisfied and pip does not build the sdist again.
On 3.11 and 3.12 nothing is done: pip builds the published source unchanged.

    python tools/durable_rules_wheel.py --python .venv/bin/python --install
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VERSION = "2.0.28"
# sha256 of durable_rules-2.0.28.tar.gz as published on PyPI.
SDIST_SHA256 = "053b26f5e48d312d4fa27995243f954671be6eece477f150c059c364eb4d7d61"
# The first CPython without PyEval_CallObject.
FIRST_PYTHON_NEEDING_FIX = (3, 13)
BINDING_SOURCE = "src/rulespy/rules.c"
REMOVED_CALL = "PyEval_CallObject("
REPLACEMENT_CALL = "PyObject_CallObject("
# 2.0.28 calls it in exactly these many places; anything else is another source.
EXPECTED_CALLS = 5
# Part of the cache folder name, so a cache never mixes patched and unpatched builds.
FIX_NAME = "pyobject-callobject"


class BuildError(RuntimeError):
    """The patched wheel could not be made; the message says which step failed."""


@dataclass(frozen=True)
class Interpreter:
    """The Python the wheel is for: its version and wheel tag (cp313-cp313)."""

    executable: str
    version: tuple[int, int]
    tag: str


def needs_fix(version: tuple[int, int]) -> bool:
    """True for Pythons whose C API no longer has PyEval_CallObject."""
    return version >= FIRST_PYTHON_NEEDING_FIX


def patch_binding(source: str) -> str:
    """The binding's C source with every PyEval_CallObject call made a PyObject_CallObject one.

    Both take (callable, args tuple) and return a new reference; the old name was
    a macro for the new call since Python 3.9. Refuses a source that does not
    have exactly the calls of 2.0.28, so a different release is never half-patched.
    """
    found = source.count(REMOVED_CALL)
    if found != EXPECTED_CALLS:
        raise BuildError(
            f"{BINDING_SOURCE}: expected {EXPECTED_CALLS} calls of PyEval_CallObject "
            f"(durable-rules {VERSION}), found {found}"
        )
    return source.replace(REMOVED_CALL, REPLACEMENT_CALL)


def probe(executable: str) -> Interpreter:
    """Ask the target interpreter for its version and CPython wheel tag."""
    code = "import sys; v = sys.version_info; print(v[0], v[1], sys.implementation.name)"
    try:
        out = subprocess.run(
            [executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"cannot run {executable}: {exc}") from exc
    major, minor, implementation = int(out[0]), int(out[1]), out[2]
    if implementation != "cpython":
        raise BuildError(f"{executable} is {implementation}; durable-rules needs CPython")
    return Interpreter(executable, (major, minor), f"cp{major}{minor}-cp{major}{minor}")


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/channel-router (default ~/.cache/channel-router): survives `make clean`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "channel-router"


def wheel_dir(cache: Path) -> Path:
    """Where the patched wheels of this durable-rules version live."""
    return cache / f"durable-rules-{VERSION}-{FIX_NAME}"


def cached_wheel(cache: Path, python: Interpreter) -> Path | None:
    """The wheel built earlier for this interpreter's tag, if there is one."""
    found = sorted(wheel_dir(cache).glob(f"durable_rules-{VERSION}-{python.tag}-*.whl"))
    return found[-1] if found else None


def _pip(step: str, python: Interpreter, *args: str) -> None:
    """Run `python -m pip ARGS` quietly; on failure raise with the end of its output."""
    command = [python.executable, "-m", "pip", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{step} failed ({' '.join(command[:4])} ...):\n{tail}")


def _extract(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+: refuse links and paths out of `into`
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - older 3.11 patch releases
            tar.extractall(into)
    return into / f"durable_rules-{VERSION}"


def build_wheel(python: Interpreter, cache: Path, say: Callable[[str], object] = print) -> Path:
    """Download, patch and build; the wheel is moved into the cache only when complete."""
    report = say
    with tempfile.TemporaryDirectory(prefix="durable-rules-") as tmp:
        work = Path(tmp)
        requirement = work / "requirement.txt"
        requirement.write_text(f"durable-rules=={VERSION} --hash=sha256:{SDIST_SHA256}\n")
        report(f"downloading the durable-rules {VERSION} source from PyPI (sha256 checked)")
        _pip(
            "download",
            python,
            *("download", "--quiet", "--no-deps", "--no-binary", ":all:", "--require-hashes"),
            *("-r", str(requirement), "-d", str(work / "sdist")),
        )
        source_dir = _extract(work / "sdist" / f"durable_rules-{VERSION}.tar.gz", work / "src")
        binding = source_dir / BINDING_SOURCE
        binding.write_text(patch_binding(binding.read_text()))
        report(f"building it with {python.executable}: PyEval_CallObject -> PyObject_CallObject")
        _pip(
            "build",
            python,
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(work / "wheel"),
            str(source_dir),
        )
        built = next((work / "wheel").glob("durable_rules-*.whl"), None)
        if built is None:
            raise BuildError("build produced no wheel")
        target = wheel_dir(cache)
        target.mkdir(parents=True, exist_ok=True)
        final = target / built.name
        partial = target / (built.name + ".partial")
        shutil.copyfile(built, partial)
        os.replace(partial, final)
        return final


def ensure(
    python: Interpreter, cache: Path, *, install: bool, say: Callable[[str], object] = print
) -> Path | None:
    """The patched wheel for `python` (cached or built), installed if asked; None if not needed."""
    report = say
    version = ".".join(map(str, python.version))
    if not needs_fix(python.version):
        report(f"Python {version}: durable-rules {VERSION} builds from PyPI as published")
        return None
    wheel = cached_wheel(cache, python)
    if wheel is not None:
        report(f"Python {version}: using the patched durable-rules wheel {wheel}")
    else:
        wheel = build_wheel(python, cache, report)
        report(f"Python {version}: patched durable-rules wheel cached as {wheel}")
    if install:
        _pip("install", python, "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel))
        report(f"installed {wheel.name}")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="target interpreter")
    parser.add_argument("--cache", type=Path, default=None, help="wheel cache folder")
    parser.add_argument("--install", action="store_true", help="install the wheel into --python")
    args = parser.parse_args(argv)
    try:
        python = probe(args.python)
        ensure(python, args.cache or default_cache_dir(), install=args.install)
    except BuildError as exc:
        print(f"durable-rules: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
