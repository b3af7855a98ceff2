"""Start a child process that belongs to us: its own session, and it dies with us.

Its own session (process group) means a Ctrl-C in the terminal reaches only
the parent, which then stops its children in order (the app before the Redis
it uses) instead of all of them at once. On Linux the child also gets SIGTERM
when the parent dies without stopping it (PR_SET_PDEATHSIG), so a killed
`up` leaves no redis-server behind. That signal follows the *thread* that
started the child: start children from a thread that lives as long as they do
(the main thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to SIGTERM the child when `parent` goes (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> subprocess.Popen[bytes]:
    """Popen `argv` in its own session, to be stopped by us and to die with us."""
    return subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        pass_fds=tuple(pass_fds),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with(os.getpid()),
    )
