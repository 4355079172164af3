"""A closed pipe on standard output: `logsentry analyze FILE | head -1`.

When the reader goes away, what is still buffered, and the interpreter's own
flush at exit, would raise BrokenPipeError again (and print "Exception ignored").
Pointing the descriptor at /dev/null lets the program end quietly.
"""

from __future__ import annotations

import os


def discard_output(fd: int) -> None:
    """Send whatever is still written to `fd` to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)
