"""A file written by a forked child from the parent's memory as it was at `fork()`.

The detection state at a million groups takes tens of seconds to serialize. Done in
the daemon, it competes with detection for the interpreter lock, copies every group
detection changes before its turn and feeds the garbage collector (pauses of 100 to
250 ms at 960,000 groups). Forked, as Redis's BGSAVE does, the child serializes its
copy-on-write image of the state while the parent goes on: the parent's pause is
`fork()` itself (copying page tables, a few milliseconds for a few hundred MB), and the
kernel copies a page only when one side writes to it.

The child touches no lock another thread of the parent may have held at the fork (no
logging, no asyncio, no torch): it serializes plain objects with orjson and writes
with `os.write`. It closes every inherited descriptor but its two pipes (listening
sockets and broker connections must not outlive the parent in it), ignores the
daemon's signal handlers, and gives up, without renaming anything into place, when
its parent is gone. The end of the file is sent by the parent once known (a
checkpoint's source positions are committed after it is taken): the child writes
everything else meanwhile and renames the file into place only once it has that end.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# Whether this platform can fork (not Windows; elsewhere the daemon's writer thread).
FORK_AVAILABLE = hasattr(os, "fork") and hasattr(os, "waitpid")
# Exit statuses of the child.
_WRITTEN, _ABANDONED, _ORPHANED, _FAILED = 0, 1, 2, 3
# Error text the child hands back, at most.
_ERROR_BYTES = 4096


def temporary_path(path: Path, pid: int) -> Path:
    """Where the child `pid` writes `path` before renaming it into place."""
    return path.with_name(f"{path.name}.{pid}.tmp")


class ForkedWrite:
    """Writes `path` in a forked child: `body()`'s pieces, then the bytes `finish()` sends.

    Created in the thread whose state the child must see (between two batches); the
    parent then calls `finish(end)` once the end is known and gets None when the file
    is in place (written, fsync'd, renamed, directory fsync'd), else why not; or
    `abandon()` to stop the child without writing anything.
    """

    def __init__(self, path: Path, body: Callable[[], Iterable[bytes]]) -> None:
        self.path = path
        parent = os.getpid()
        end_read, self._end_write = os.pipe()
        self._result_read, result_write = os.pipe()
        self.forked_at = time.perf_counter()
        try:
            pid = os.fork()
        except OSError:
            for fd in (end_read, self._end_write, self._result_read, result_write):
                os.close(fd)
            raise
        if pid == 0:  # the child: never returns
            _child(path, body, end_read, result_write, parent)
        self.pid = pid
        self.fork_seconds = time.perf_counter() - self.forked_at
        os.close(end_read)
        os.close(result_write)
        self._end_open = True
        self._done = False

    def finish(self, end: bytes) -> str | None:
        """Send the file's last bytes, wait for the child (blocking); None once the file is
        in place, else what went wrong."""
        try:
            view = memoryview(end)
            while view:
                view = view[os.write(self._end_write, view):]
        except OSError as exc:  # the child died early (its error is read below)
            sent_error: str | None = f"cannot hand the checkpoint's end to its writer: {exc}"
        else:
            sent_error = None
        finally:
            self._close_end()
        return self._reap() or sent_error

    def abandon(self) -> None:
        """Stop the child without renaming anything into place (blocking, briefly)."""
        if self._done:
            return
        self._close_end()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap()
        with contextlib.suppress(OSError):
            temporary_path(self.path, self.pid).unlink(missing_ok=True)

    def _close_end(self) -> None:
        if self._end_open:
            self._end_open = False
            os.close(self._end_write)

    def _reap(self) -> str | None:
        chunks = []
        while chunk := os.read(self._result_read, _ERROR_BYTES):
            chunks.append(chunk)
        os.close(self._result_read)
        self._done = True
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by someone else: its status is lost
            return "its writer process's exit status was taken by another waiter"
        code = os.waitstatus_to_exitcode(status)
        if code == _WRITTEN:
            return None
        text = b"".join(chunks).decode("utf-8", "replace")
        if code == _ABANDONED:
            return "abandoned before its end was known"
        if code < 0:
            return f"its writer process was killed by signal {-code}"
        return text or f"its writer process exited with status {code}"


def _child(path: Path, body: Callable[[], Iterable[bytes]], end_read: int, result_write: int,
           parent: int) -> None:
    code = _FAILED
    tmp = temporary_path(path, os.getpid())
    try:
        _detach(end_read, result_write)
        # The child only serializes, its temporaries freed by reference counting: a
        # collection would only touch (and so copy) pages for nothing.
        gc.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            for piece in body():
                _write_all(fd, piece)
                if os.getppid() != parent:
                    code = _ORPHANED
                    raise _Stop
            end = _read_all(end_read)
            if not end:
                code = _ABANDONED
                raise _Stop
            _write_all(fd, end)
            os.fsync(fd)
        finally:
            os.close(fd)
        if os.getppid() != parent:
            # The parent died: a daemon started since may have written a newer file.
            code = _ORPHANED
            raise _Stop
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        code = _WRITTEN
    except BaseException as exc:  # whatever it is, the child must reach os._exit
        try:
            tmp.unlink(missing_ok=True)
            if not isinstance(exc, _Stop):
                os.write(result_write, f"{type(exc).__name__}: {exc}".encode(
                    "utf-8", "replace")[:_ERROR_BYTES])
        except BaseException:  # nothing else to do in a dying child
            pass
    finally:
        os._exit(code)


class _Stop(Exception):
    """The child stops without writing (its status says why)."""


def _detach(end_read: int, result_write: int) -> None:
    """The child keeps nothing of the daemon's: no wakeup descriptor (a signal would
    otherwise wake the parent's event loop), none of its signal handlers, and no
    inherited descriptor but its pipes. Stop and reload signals are ignored: a stop
    sent to the whole service reaches the child too, and the parent, which waits for
    its checkpoint or stops it, decides; a child whose parent died stops by itself."""
    signal.set_wakeup_fd(-1)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_IGN)
    low, high = sorted((end_read, result_write))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write may write only part of a large buffer
        view = view[os.write(fd, view):]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
