"""Refuse, with a clear message, a Python that channel-router cannot run on.

Run by `make install` with the interpreter it is about to use, before anything
is created. The supported range is read from `requires-python` in
pyproject.toml, so it is written in one place. Kept to syntax that any Python 3
parses (no f-strings, no annotations), so even an old interpreter gets the
message rather than a SyntaxError.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYPROJECT = os.path.join(os.path.dirname(HERE), "pyproject.toml")
SPEC = re.compile(r"^\s*(>=|<=|<|>|==)\s*(\d+)\.(\d+)\s*$")


def requires_python(pyproject_text):
    # type: (str) -> str
    """The `requires-python` string of pyproject.toml."""
    match = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject_text, re.MULTILINE)
    if not match:
        raise ValueError("pyproject.toml has no requires-python")
    return match.group(1)


def allows(spec, version):
    # type: (str, tuple[int, int]) -> bool
    """Whether (major, minor) satisfies a spec like ">=3.11,<3.14"."""
    for part in spec.split(","):
        match = SPEC.match(part)
        if not match:
            raise ValueError("unsupported requires-python clause %r" % part)
        op, bound = match.group(1), (int(match.group(2)), int(match.group(3)))
        ok = {
            ">=": version >= bound,
            "<=": version <= bound,
            "<": version < bound,
            ">": version > bound,
            "==": version == bound,
        }[op]
        if not ok:
            return False
    return True


def supported(spec):
    # type: (str) -> list[str]
    """The 3.x minor versions the spec allows, for the message (3.0 to 3.29 considered)."""
    return ["3.%d" % minor for minor in range(30) if allows(spec, (3, minor))]


def main(version=None, executable=sys.executable, pyproject=PYPROJECT):
    # type: (tuple[int, int] | None, str, str) -> int
    """0 when `version` (default: this interpreter's) is supported, else 1 and a message."""
    with open(pyproject) as handle:
        spec = requires_python(handle.read())
    if version is None:
        version = (sys.version_info[0], sys.version_info[1])
    if allows(spec, version):
        return 0
    sys.stderr.write(
        "channel-router needs Python %s (requires-python %s); %s is Python %d.%d.\n"
        "Choose another interpreter, for example: make install PYTHON=python%s\n"
        % (
            ", ".join(supported(spec)),
            spec,
            executable,
            version[0],
            version[1],
            supported(spec)[-1],
        )
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
