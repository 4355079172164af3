"""Kernel names for the daemon's worker threads.

Python names its threads for itself only; the kernel sees every thread as the
command's name. Named with `prctl(PR_SET_NAME)`, they tell apart in `top -H`,
`ps -L -o tid,comm,time` and `/proc/PID/task/*/comm`: which stage takes the CPU
(the model, detection) without a profiler.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

_PR_SET_NAME = 15
# The kernel keeps 15 bytes of a thread's name (16 with the terminating NUL).
MAX_NAME_BYTES = 15


def _find_prctl() -> Callable[..., Any] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, at import: a worker thread then only makes the system call.
_PRCTL = _find_prctl()


def name_this_thread(name: str) -> None:
    """Give the calling thread `name` (cut to 15 bytes) for the kernel; Linux only,
    a no-op elsewhere or where prctl is unavailable (naming is a convenience)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_NAME, name.encode()[:MAX_NAME_BYTES], 0, 0, 0)
