"""Kernel names for the daemon's worker threads.

Python names its threads for itself only; the kernel sees every thread as
`python3`. Named with `prctl(PR_SET_NAME)`, they tell apart in `top -H`,
`ps -L -o tid,comm,time` and `/proc/PID/task/*/comm`: which stage takes the CPU
(the model, detection, the spool) without a profiler.
"""

from __future__ import annotations

import ctypes
import sys

_PR_SET_NAME = 15
# The kernel keeps 15 bytes of a thread's name (16 with the terminating NUL).
MAX_NAME_BYTES = 15


def name_this_thread(name: str) -> None:
    """Give the calling thread `name` (cut to 15 bytes) for the kernel; Linux only,
    a no-op elsewhere or where prctl is unavailable (naming is a convenience)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:MAX_NAME_BYTES], 0, 0, 0)
    except (OSError, AttributeError):
        return
