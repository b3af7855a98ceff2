"""`make install`: the virtual environment, step by step, saying what it is doing.

    python tools/install.py --venv .venv --extras dev

1. the interpreter running this script must be one that requires-python allows
   (`tools/check_python.py` has said so with a clear message before);
2. the virtual environment is created, or re-created when it was made with
   another Python version;
3. durable-rules is made to work on this Python (`tools/durable_rules_wheel.py`);
4. the project and its dependencies are installed with pip (editable); pip's
   output is condensed to a running count of what it collects, builds and
   installs, and shown whole when pip fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tools import durable_rules_wheel  # noqa: E402  (run as a script from any folder)

STEPS = 4
# pip lines that say what it is doing; everything else is kept for a failure report.
PROGRESS_PREFIXES = ("Collecting ", "Building wheel", "Building editable", "Installing collected")


def step(number: int, text: str) -> float:
    """Print the header of a step; returns its start time."""
    print(f"[{number}/{STEPS}] {text}", flush=True)
    return time.monotonic()


def done(started: float, text: str = "done") -> None:
    print(f"      {text} ({time.monotonic() - started:.1f} s)", flush=True)


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def venv_version(venv_dir: Path) -> str | None:
    """The `version` recorded in pyvenv.cfg (3.13.0), or None if there is no environment."""
    cfg = venv_dir / "pyvenv.cfg"
    if not cfg.exists() or not venv_python(venv_dir).exists():
        return None
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def same_minor(recorded: str | None, version: tuple[int, int]) -> bool:
    """Whether a recorded version such as '3.13.0' is the same major.minor."""
    return recorded is not None and recorded.split(".")[:2] == [str(v) for v in version]


def ensure_venv(venv_dir: Path) -> str:
    """Create the environment, or replace one made by another Python; says which."""
    current = sys.version_info[:2]
    recorded = venv_version(venv_dir)
    if same_minor(recorded, current):
        return f"reusing {venv_dir} (Python {recorded})"
    note = f"created {venv_dir}"
    if venv_dir.exists():
        note = f"replaced {venv_dir} (it was made with Python {recorded or 'unknown'})"
        shutil.rmtree(venv_dir)
    venv.EnvBuilder(with_pip=True, symlinks=os.name != "nt").create(venv_dir)
    return note


class PipProgress:
    """Condenses pip's output into counts; keeps every line for a failure report."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self.show = show
        self.lines: list[str] = []
        self.collected = 0

    def feed(self, line: str) -> None:
        self.lines.append(line)
        text = line.strip()
        if text.startswith("Collecting "):
            self.collected += 1
            if self.collected == 1 or self.collected % 10 == 0:
                self.show(f"collected {self.collected} packages ({text.split()[1]})")
        elif text.startswith(("Building wheel", "Building editable")) and "finished" not in text:
            self.show(text.split(" (", 1)[0].split(":", 1)[0].lower())
        elif text.startswith("Installing collected packages"):
            count = len(text.split(":", 1)[1].split(","))
            self.show(f"installing {count} packages")
        elif text.startswith("Successfully installed"):
            self.show(f"installed {len(text.split()) - 2} packages")

    def tail(self, count: int = 40) -> str:
        return "".join(self.lines[-count:])


def pip_install(python: Path, target: str) -> PipProgress:
    """`pip install -e target` in the environment, printing condensed progress."""
    progress = PipProgress(lambda text: print(f"      {text}", flush=True))
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-e", target]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            progress.feed(line)
    if process.returncode != 0:
        print(progress.tail(), file=sys.stderr)
        raise SystemExit(f"pip install failed (exit {process.returncode}); its output is above")
    return progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create or update the project's environment.")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="environment folder")
    parser.add_argument("--extras", default="dev", help="optional dependency groups ('' for none)")
    args = parser.parse_args(argv)
    total = time.monotonic()
    version = "{}.{}.{}".format(*sys.version_info[:3])

    started = step(1, f"Python {version} ({sys.executable})")
    done(started, "supported (requires-python in pyproject.toml)")

    started = step(2, f"virtual environment {args.venv}")
    done(started, ensure_venv(args.venv))
    python = venv_python(args.venv)

    started = step(3, f"durable-rules {durable_rules_wheel.VERSION}, the rules engine")
    try:
        durable_rules_wheel.ensure(
            durable_rules_wheel.probe(str(python)),
            durable_rules_wheel.default_cache_dir(),
            install=True,
            say=lambda text: print(f"      {text}", flush=True),
        )
    except durable_rules_wheel.BuildError as exc:
        raise SystemExit(f"durable-rules: {exc}") from None
    done(started)

    target = f".[{args.extras}]" if args.extras else "."
    started = step(4, f"channel-router and its dependencies (pip install -e '{target}')")
    pip_install(python, target)
    done(started)
    print(f"installed in {time.monotonic() - total:.0f} s: {args.venv}/bin/channel-router")
    return 0


if __name__ == "__main__":
    sys.exit(main())
